namespace FaceNet.Gallery;

/// <summary>
/// One committed change. <see cref="Faces"/> holds an enrolment's faces as they are now (empty when the
/// subject has been removed since); <see cref="Name"/> is the subject's name after a rename, or its
/// current name after an enrolment (null once the subject is erased).
/// </summary>
public sealed record GalleryChange(long Sequence, ChangeKind Kind, long SubjectId, string? Name, IReadOnlyList<StoredFace> Faces);
