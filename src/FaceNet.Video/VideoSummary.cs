namespace FaceNet.Video;

/// <summary>What a run did: the video's length, the time it took, how often faces were looked for.</summary>
public sealed record VideoSummary(double VideoSeconds, double WallSeconds, long Frames, long DetectedFrames, int Every, int Tracks)
{
    public double RealTimeFactor => WallSeconds > 0 ? VideoSeconds / WallSeconds : 0;
}
