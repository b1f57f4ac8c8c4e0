namespace FaceNet.Gallery;

public sealed record Subject(long Id, string Name, DateTime Created, string? Metadata, int Faces);
