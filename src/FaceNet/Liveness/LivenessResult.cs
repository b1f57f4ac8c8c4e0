using System.Text.Json.Serialization;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>What to do with a face whose liveness cannot be judged (too small, too blurred, the crop mostly outside the photo).</summary>
public enum UnjudgedFaces
{
    /// <summary>Refuse it as an attack is refused: a door fails closed (the default).</summary>
    Refuse,
    /// <summary>Let it through; only faces judged to be attacks are refused.</summary>
    Allow,
}

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

/// <summary>
/// A face refused because it is (or cannot be shown not to be) a presentation attack: a photo or a screen
/// held up to the camera. <see cref="FaceNetException.Kind"/> is <see cref="FaceNetErrorKind.PresentationAttack"/>;
/// the message names the file, the score and the threshold.
/// </summary>
public sealed class PresentationAttackException(string file, LivenessResult result)
    : ImageException(file, result.Live is null
        ? $"liveness cannot be judged ({result.Reason}); refused as a possible presentation attack (score {result.Score:F4}, threshold {result.Threshold:F4})"
        : $"presentation attack: the face looks like a photo or a screen, not a live person (liveness score {result.Score:F4} below the threshold {result.Threshold:F4})",
        FaceNetErrorKind.PresentationAttack)
{
    public LivenessResult Result { get; } = result;

    /// <summary>Throws for the first face of <paramref name="results"/> that an operation requiring live faces refuses.</summary>
    public static void ThrowIfRefused(string file, IEnumerable<LivenessResult> results, UnjudgedFaces unjudged = UnjudgedFaces.Refuse)
    {
        foreach (var r in results)
            if (r.Refused(unjudged)) throw new PresentationAttackException(file, r);
    }
}

/// <summary>
/// The liveness answer for one face as the command line's <c>--json</c> and the service write it:
/// <c>{"box":[x,y,w,h], "live":true|false|null, "score":…, "threshold":…, "reason":…}</c> (<c>reason</c>
/// only when <c>live</c> is null). The names are a contract: scripts rely on them.
/// </summary>
public sealed record LivenessJson(
    [property: JsonPropertyName("box")] int[] Box,
    [property: JsonPropertyName("live")] bool? Live,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason)
{
    public static LivenessJson Of(LivenessResult r) => new(r.Box.ToArray(), r.Live, Math.Round(r.Score, 6), r.Threshold, r.Live is null ? r.Reason : null);
}
