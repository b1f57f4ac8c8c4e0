using FaceNet.Imaging;

namespace FaceNet.Video;

/// <summary>One decoded frame: its pixels (RGB, upright) and when it is shown.</summary>
public sealed record VideoFrame(long Index, double Time, RgbImage Image);
