namespace FaceNet.Training;

/// <summary>VAL at the FAR, and the balanced-accuracy-maximising threshold with its accuracy, over all pairs of the validation faces.</summary>
public sealed record ValidationFigures(double Val, double Accuracy, double Threshold, int SamePairs, int DifferentPairs);
