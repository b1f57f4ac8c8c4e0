using FaceNet.Detection;

namespace FaceNet.Evaluation;

/// <summary>
/// One photo of a liveness evaluation: a live face (bona fide presentation) or an attack, its subject's score
/// (null when no face was found) and, for a face that cannot be judged, why.
/// </summary>
public sealed record LivenessSample(string File, bool Attack, double? Score, string? Unjudged)
{
    /// <summary>Each network's live probability.</summary>
    public IReadOnlyList<double> NetworkScores { get; init; } = [];

    /// <summary>The detector's box of the face judged.</summary>
    public FaceBox? Box { get; init; }

    public bool NoFace => Score is null;
    public bool Judged => Score is not null && Unjudged is null;
}
