using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record LivenessResponse(IReadOnlyList<LivenessJson> Faces, int Width, int Height, string Model, string ThresholdSource)
{
    /// <summary>Faces found beyond the service's cap per photo (the smallest), not judged.</summary>
    public int FacesDropped { get; init; }
}
