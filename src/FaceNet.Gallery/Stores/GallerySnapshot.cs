namespace FaceNet.Gallery;

/// <summary>Everything a gallery holds, read in one transaction, and the change it is current to.</summary>
public sealed record GallerySnapshot(IReadOnlyList<Subject> Subjects, IReadOnlyList<StoredFace> Faces, long Sequence);
