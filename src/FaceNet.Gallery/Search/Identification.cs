using FaceNet.Matching;

namespace FaceNet.Gallery;

/// <summary>
/// An open-set answer: the best subject if within its threshold, else unknown; and the runners-up. Candidates are ranked by
/// their distance minus their own threshold (with pose bands, a turned face's candidate may be held to a looser threshold
/// than a frontal one's), and <see cref="Threshold"/> is the one applied to the best candidate.
/// </summary>
public sealed record Identification(string? Name, bool Known, double Distance, double Threshold, IReadOnlyList<Candidate> Candidates)
{
    /// <summary>How the threshold was chosen (target FPIR, comparisons), when the search chose it.</summary>
    public OpenSetThreshold? Rule { get; init; }

    /// <summary>The subjects the gallery held for this search, when the search chose the threshold.</summary>
    public int Subjects { get; init; }
}
