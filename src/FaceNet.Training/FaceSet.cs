namespace FaceNet.Training;

/// <summary>Faces of people in folders (one sub-folder per person), embedded once by the frozen base model.</summary>
public sealed record FaceSet(IReadOnlyList<string> People, IReadOnlyList<(int Person, float[] X)> Faces, int Skipped, string Hash);
