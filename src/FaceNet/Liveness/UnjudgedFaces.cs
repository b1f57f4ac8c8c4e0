namespace FaceNet.Liveness;

/// <summary>What to do with a face whose liveness cannot be judged (too small, too blurred, the crop mostly outside the photo).</summary>
public enum UnjudgedFaces
{
    /// <summary>Refuse it as an attack is refused: a door fails closed (the default).</summary>
    Refuse,
    /// <summary>Let it through; only faces judged to be attacks are refused.</summary>
    Allow,
}
