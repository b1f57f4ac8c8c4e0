using FaceNet.Detection;

namespace FaceNet.Evaluation;

/// <summary>
/// The result of an evaluation: the protocol figures and what could not be embedded —
/// <see cref="FacelessImages"/> decoded but no face was found, <see cref="UnreadableImages"/> could not be decoded.
/// </summary>
public sealed record EvaluationReport(ProtocolResult Result, int Images, int FacelessImages, int UnreadableImages, int FailedPairs, int CenterCropped,
    IReadOnlyList<string> Failures, double[] Distances, bool[] Same, double Seconds, Matching.Metric Metric)
{
    public int FailedImages => FacelessImages + UnreadableImages;

    /// <summary>Each pair's difference in yaw, |yaw a − yaw b| in degrees (<see cref="HeadPose"/>); NaN where a face or its pose is missing.</summary>
    public double[] PoseDifferences { get; init; } = [];
}
