namespace FaceNet.Detection;

/// <summary>
/// A detected face: its box, the detector's confidence, and five landmarks when the detector gives them,
/// in this order: the subject's right eye, left eye, nose tip, right mouth corner, left mouth corner
/// (so the image-left eye comes first).
/// </summary>
public sealed record DetectedFace(FaceBox Box, float Score, FacePoint[]? Landmarks)
{
    /// <summary>
    /// Which network placed the landmarks: <c>yunet</c>, <c>onet</c> (MTCNN's O-Net refining another
    /// detector's face) or <c>mtcnn</c>; null without landmarks. A refining detector says <c>yunet</c> when
    /// it kept the finder's own landmarks because O-Net could not be trusted on that face.
    /// </summary>
    public string? LandmarksSource { get; init; }

    private readonly HeadPose? _pose;

    /// <summary>
    /// Which way the head is turned (<see cref="HeadPose"/>, degrees): given by the detector when it knows it,
    /// else read from the five landmarks; null without either.
    /// </summary>
    public HeadPose? Pose
    {
        get => _pose ?? HeadPose.FromLandmarks(Landmarks);
        init => _pose = value;
    }

    /// <summary>How well the face can be recognised (set by <see cref="FaceRecognizer"/>'s detection; null from a bare detector).</summary>
    public Quality.FaceQuality? Quality { get; init; }

    /// <summary>The same face in an image <paramref name="factor"/> times the size of this one's.</summary>
    public DetectedFace Scaled(double factor)
    {
        if (factor == 1) return this;
        float f = (float)factor;
        return this with
        {
            Box = new FaceBox(Box.X * f, Box.Y * f, Box.Width * f, Box.Height * f),
            Landmarks = Landmarks?.Select(p => new FacePoint(p.X * f, p.Y * f)).ToArray(),
        };
    }
}
