using FaceNet.Imaging;

namespace FaceNet.Liveness;

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
