using FaceNet.Matching;

namespace FaceNet.Gallery;

public sealed record Candidate(string Name, double Distance)
{
    /// <summary>The subject's id in the store (for the audit trail), when the search knows it.</summary>
    public long? SubjectId { get; init; }

    /// <summary>
    /// The threshold this candidate is held to: the search's threshold plus the model's pose-band offset for the pose difference
    /// between the searching face and the candidate's face (<see cref="PoseThresholds.Offset"/>); NaN when the search set none.
    /// </summary>
    public double Threshold { get; init; } = double.NaN;

    /// <summary>How much looser than the search's threshold this candidate's is (its pose band's offset; 0 without pose bands).</summary>
    internal double Offset { get; init; }
}
