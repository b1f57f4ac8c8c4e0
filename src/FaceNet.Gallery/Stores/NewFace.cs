namespace FaceNet.Gallery;

/// <summary>What to store for one face. The photo's SHA-256 is computed from <see cref="SourceFile"/> when not given.</summary>
public sealed record NewFace(float[] Embedding, string? SourceFile = null, string? SourceSha256 = null, int[]? Box = null, string? Detector = null)
{
    /// <summary>The face's yaw in degrees (<see cref="Detection.HeadPose.Yaw"/>), kept so identification can apply the pose-aware rule; null: unknown (counted as frontal).</summary>
    public double? Yaw { get; init; }
}
