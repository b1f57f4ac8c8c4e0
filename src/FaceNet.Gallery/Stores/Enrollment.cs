namespace FaceNet.Gallery;

/// <summary>What an enrolment stored: the subject (new or existing) and the new faces' ids.</summary>
public sealed record Enrollment(long SubjectId, IReadOnlyList<long> FaceIds);
