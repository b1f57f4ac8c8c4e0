namespace FaceNet.Gallery;

/// <summary>
/// A stored face's vector (plain, opened under the data key when the gallery is encrypted), whose it is, and its yaw at
/// enrolment in degrees (NaN: not recorded, counted as frontal).
/// </summary>
public readonly record struct FaceVector(long Id, long SubjectId, float[] Embedding, float Yaw);
