namespace FaceNet.Evaluation;

/// <summary>One labelled pair of image files; <see cref="Fold"/> is the protocol fold it belongs to.</summary>
public sealed record LabeledPair(string FileA, string FileB, bool Same, int Fold, int Line);
