namespace FaceNet.Detection;

/// <summary>Options of <see cref="YuNetDetector"/>.</summary>
public sealed record YuNetOptions
{
    /// <summary>Minimum score, sqrt(cls·obj), of a kept face.</summary>
    public float ScoreThreshold { get; init; } = 0.7f;

    public float NmsThreshold { get; init; } = 0.3f;

    /// <summary>
    /// When nothing passes <see cref="ScoreThreshold"/>, a second look for faces seen from the side: candidates down
    /// to this score are kept where YuNet finds the same face (overlap ≥ <see cref="ProfileAgreement"/>) in the photo
    /// and in its mirror image, and again at a second scale. YuNet scores profiles low (0.25–0.7 on the CFP profiles
    /// the first look misses), and what a mirror image and another scale confirm is rarely anything but a face. 0
    /// turns the second look off.
    /// </summary>
    public float ProfileScoreThreshold { get; init; } = 0.25f;

    /// <summary>Intersection over union the photo's and the mirror image's box must reach for <see cref="ProfileScoreThreshold"/>.</summary>
    public float ProfileAgreement { get; init; } = 0.5f;

    /// <summary>Photos are scaled down so their longer side is at most this (YuNet finds faces of about 10–300 px).</summary>
    public int MaxSide { get; init; } = 640;

    public int Threads { get; init; }
}
