namespace FaceNet.Gallery;

/// <summary>Two subjects that are probably one person: a face of <see cref="Subject"/> is identified as <see cref="Other"/>.</summary>
public sealed record DuplicatePair(string Subject, string Other, double Distance, double Threshold);
