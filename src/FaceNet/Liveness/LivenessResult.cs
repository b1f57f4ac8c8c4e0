using System.Text.Json.Serialization;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>
/// The liveness verdict on one face: <see cref="Live"/> true (a live face), false (a presentation attack:
/// a print or a screen) or null when the face cannot be judged, with the <see cref="Reason"/>; the
/// <see cref="Score"/> (mean live probability of the networks, computed for every face) and the
/// <see cref="Threshold"/> it was held to.
/// </summary>
public sealed record LivenessResult(DetectedFace Face, bool? Live, double Score, double Threshold, string? Reason)
{
    /// <summary>Each network's live probability, in the order of <see cref="LivenessModel.Networks"/>.</summary>
    public IReadOnlyList<double> NetworkScores { get; init; } = [];

    /// <summary>The box the crops were cut around: the detector's, mapped onto the reference detector's.</summary>
    public FaceBox ReferenceBox { get; init; }

    public FaceBox Box => Face.Box;

    /// <summary>Whether an operation that requires a live face refuses this one.</summary>
    public bool Refused(UnjudgedFaces unjudged = UnjudgedFaces.Refuse) => Live == false || (Live is null && unjudged == UnjudgedFaces.Refuse);

    /// <summary>One line: "live 0.97 ≥ 0.60", "attack 0.12 &lt; 0.60" or "cannot be judged: …".</summary>
    public string Describe() => Live switch
    {
        true => $"live (score {Score:F4} >= threshold {Threshold:F4})",
        false => $"presentation attack (score {Score:F4} < threshold {Threshold:F4})",
        null => $"cannot be judged: {Reason} (score {Score:F4}, threshold {Threshold:F4})",
    };
}
