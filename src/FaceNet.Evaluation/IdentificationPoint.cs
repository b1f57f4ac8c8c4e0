namespace FaceNet.Evaluation;

/// <summary>FNIR and FPIR at one threshold.</summary>
public sealed record IdentificationPoint(double Threshold, double Fpir, double Fnir);
