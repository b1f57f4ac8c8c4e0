using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Video;

/// <summary>One person's passage through the video: when, how often seen, who (with a gallery), which cluster (without).</summary>
public sealed record FaceTrackResult(int Track, double Start, double End, int Frames, int Embeddings, string? Name, bool Known, double? Distance,
    double Threshold, double BestFrame, FaceBox Box, int? Cluster, RgbImage? BestFace)
{
    /// <summary>With <see cref="VideoOptions.Liveness"/>: the track's verdict (null: none of its faces could be judged), its score and threshold.</summary>
    public FaceNet.Liveness.LivenessResult? Liveness { get; init; }
}
