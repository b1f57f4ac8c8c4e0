namespace FaceNet.Detection;

/// <summary>Options of <see cref="MtcnnDetector"/>; defaults are FaceNet's (facenet-pytorch, David Sandberg).</summary>
public sealed record MtcnnOptions
{
    public int MinFaceSize { get; init; } = 20;
    public float ScaleFactor { get; init; } = 0.709f;
    public float[] Thresholds { get; init; } = [0.6f, 0.7f, 0.7f];
    public int Threads { get; init; }
}
