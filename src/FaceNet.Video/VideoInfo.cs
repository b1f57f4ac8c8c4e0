namespace FaceNet.Video;

/// <summary>What FFmpeg says of a video before decoding it.</summary>
public sealed record VideoInfo(int Width, int Height, double Fps, double? Duration);
