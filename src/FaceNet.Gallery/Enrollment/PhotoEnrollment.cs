namespace FaceNet.Gallery;

/// <summary>
/// One photo's outcome in <see cref="PeopleEnrollment.Run"/>: the faces committed from it (the first says how many
/// faces the photo held and whom each already looks like), or why none was (<see cref="Error"/>, faces empty).
/// </summary>
public sealed record PhotoEnrollment(string File, string Name, IReadOnlyList<EnrolledFace> Faces, FaceNetException? Error = null);
