using FaceNet.Imaging;
using FaceNet.Quality;

namespace FaceNet.Gallery;

/// <summary>A face too poor to enrol: the reason is its quality's weakest measure.</summary>
public sealed class LowQualityFaceException(string file, FaceQuality quality, double floor)
    : ImageException(file, $"face quality {quality.Score:F2} is below the enrolment floor {floor:F2}: {quality.Issue}", FaceNetErrorKind.QualityTooLow)
{
    public FaceQuality Quality { get; } = quality;
}
