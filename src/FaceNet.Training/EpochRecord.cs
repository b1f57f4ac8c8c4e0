namespace FaceNet.Training;

/// <summary>One epoch: mean training loss, share of semi-hard triplets, and the validation people's figures.</summary>
public sealed record EpochRecord(int Epoch, double Loss, double SemiHardShare, double ValidationVal, double ValidationAccuracy);
