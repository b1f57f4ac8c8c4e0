namespace FaceNet.Video;

/// <summary>How a track's identity is taken from its embeddings.</summary>
/// <remarks>
/// Measured on LFW View 1 "tracks" (each person's first photo enrolled for half the people, the others
/// strangers; 4 more photos per person as the track, two shrunk to a quarter): vote 90.6 % right, best frame
/// alone 86.7 %, weighted mean 71.1 %. The mean of several views lies nearer to everyone, so strangers
/// pass a threshold chosen for single faces (52 of 90 strangers were named). Hence vote by default.
/// </remarks>
public enum TrackIdentity
{
    /// <summary>Each embedding identified; the name most of them (by quality) agree on, unknown if most are unknown.</summary>
    Vote,
    /// <summary>The quality-weighted mean of the track's unit embeddings, identified once.</summary>
    Mean,
}
