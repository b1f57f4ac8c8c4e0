namespace FaceNet.Video;

/// <summary>A video that cannot be read: not a video, truncated, a stream that stopped, or FFmpeg missing.</summary>
public sealed class VideoException(string input, string reason) : FaceNetException(input, reason);
