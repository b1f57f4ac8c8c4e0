using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Gallery;

/// <summary>
/// Moves enrolled faces to another model: each face is found again in the photo it was enrolled from
/// (the file must still be there and unchanged: its SHA-256 is checked), as the detection whose box
/// overlaps the stored box most, and embedded with the new pipeline. Faces enrolled as crops (no box)
/// are embedded as crops again.
/// </summary>
public sealed class GalleryMigration(IGalleryStore source, FaceRecognizer pipeline)
{
    public IGalleryStore Source { get; } = source;

    /// <summary>A face that could not be moved, and why.</summary>
    public sealed record Failure(StoredFace Face, string Subject, string Problem);

    /// <summary>
    /// Every face of the source re-embedded into <paramref name="target"/> (a new gallery bound to the
    /// pipeline's model), under its subject's name, each committed as it goes; the faces that cannot be
    /// moved are reported to <paramref name="failed"/> as they are met, and returned.
    /// </summary>
    public (int Moved, IReadOnlyList<Failure> Failed) MigrateTo(IGalleryStore target, Action<Failure>? failed = null)
    {
        var names = Source.Subjects().ToDictionary(s => s.Id, s => s.Name);
        var failures = new List<Failure>();
        int moved = 0;
        foreach (var face in Source.Faces())
        {
            var (embedding, yaw, problem) = ReEmbedWithPose(face);
            if (embedding is null)
            {
                var f = new Failure(face, names[face.SubjectId], problem!);
                failures.Add(f);
                failed?.Invoke(f);
                continue;
            }
            target.Enroll(names[face.SubjectId], [new NewFace(embedding, face.SourceFile, face.SourceSha256, face.Box, pipeline.Detector.Name) { Yaw = yaw }]);
            moved++;
        }
        return (moved, failures);
    }

    /// <summary>The new embedding of a stored face, or null and the reason it cannot be made.</summary>
    public (float[]? Embedding, string? Problem) ReEmbed(StoredFace face)
    {
        var (embedding, _, problem) = ReEmbedWithPose(face);
        return (embedding, problem);
    }

    /// <summary>
    /// As <see cref="ReEmbed"/>, with the face's yaw as the detector finds it again (so a face enrolled before galleries kept
    /// poses gets one); a face enrolled as a crop keeps what was stored.
    /// </summary>
    public (float[]? Embedding, double? Yaw, string? Problem) ReEmbedWithPose(StoredFace face)
    {
        if (face.SourceFile is null) return (null, null, "the gallery does not record the photo this face came from");
        if (!File.Exists(face.SourceFile)) return (null, null, "the photo it was enrolled from is gone");
        if (face.SourceSha256 is not null && !string.Equals(FileHash.Sha256(face.SourceFile), face.SourceSha256, StringComparison.OrdinalIgnoreCase))
            return (null, null, "the photo changed since it was enrolled");
        RgbImage image;
        try { image = ImageDecoder.Load(face.SourceFile); }
        catch (ImageException e) { return (null, null, e.Reason); }
        if (face.Box is not { Length: 4 } b) return (pipeline.EmbedCrop(image), face.Yaw, null);
        var stored = new FaceBox(b[0], b[1], b[2], b[3]);
        var found = pipeline.Detector.Detect(image);
        var best = found.Select(f => (Face: f, IoU: f.Box.IoU(stored))).OrderByDescending(p => p.IoU).FirstOrDefault();
        if (best.Face is null || best.IoU < 0.4) return (null, null, "the enrolled face is not found in the photo any more");
        return (pipeline.Embed(image, [best.Face])[0].Vector, best.Face.Pose?.Yaw, null);
    }
}
