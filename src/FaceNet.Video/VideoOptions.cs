using FaceNet.Gallery;

namespace FaceNet.Video;

public sealed record VideoOptions
{
    /// <summary>Detect on every N-th frame; 0: chosen from the measured cost so the video runs at <see cref="TargetSpeed"/>.</summary>
    public int Every { get; init; }

    /// <summary>Real-time factor that the automatic <see cref="Every"/> aims at.</summary>
    public double TargetSpeed { get; init; } = 2.0;

    /// <summary>Detections a track needs to be reported (fewer: a passing false detection).</summary>
    public int MinFrames { get; init; } = 3;

    /// <summary>Seconds a track survives without being detected (someone turning away, a missed frame).</summary>
    public double MaxGap { get; init; } = 1.0;

    /// <summary>A track's face is embedded again at most this often (seconds), unless a better view of it comes.</summary>
    public double EmbedInterval { get; init; } = 0.4;

    public TrackIdentity Identity { get; init; } = TrackIdentity.Vote;

    /// <summary>Keep each track's best face crop (for <c>--faces-dir</c>).</summary>
    public bool KeepBestFace { get; init; }

    /// <summary>
    /// Judge each track's liveness: each face embedded for it is also judged, and the track's verdict is the mean of its
    /// judged faces' scores held to the liveness threshold (null, with the reason, when none of them could be judged).
    /// </summary>
    public bool Liveness { get; init; }

    /// <summary>How a gallery search chooses its threshold (a target FPIR by default, see <see cref="IdentifyOptions"/>).</summary>
    public IdentifyOptions Identification { get; init; } = new();
}
