using FaceNet.Detection;

namespace FaceNet.Gallery;

/// <summary>A face enrolled: its id, the face as found, how many faces the photo held, and the other subject it looks like, if any.</summary>
public sealed record EnrolledFace(string Name, long FaceId, DetectedFace Face, int FacesInPhoto, Identification? LooksLike);
