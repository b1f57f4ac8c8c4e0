namespace FaceNet.Gallery;

/// <summary>One enrolled face: its embedding and where it came from.</summary>
public sealed record StoredFace(long Id, long SubjectId, float[] Embedding, string? SourceFile, string? SourceSha256, int[]? Box,
    string? Detector, DateTime Created)
{
    /// <summary>
    /// The face's yaw in degrees when it was enrolled (<see cref="Detection.HeadPose.Yaw"/>); null for a face enrolled before galleries
    /// kept it (SQLite schema 5, PostgreSQL schema 4) or without landmarks. Identification counts a null yaw as frontal (0°).
    /// </summary>
    public double? Yaw { get; init; }
}
