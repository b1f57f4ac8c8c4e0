namespace FaceNet.Evaluation;

/// <summary>Verification figures of the pairs in one band of pose difference, at the model's thresholds.</summary>
/// <param name="Band">The band, e.g. <c>0–15°</c>, <c>45°+</c>, or <c>unknown</c> (a face without a pose or without a face).</param>
/// <param name="Threshold">The threshold applied in the band (the model's pose-aware one, or the fixed one).</param>
public sealed record PoseBandResult(string Band, int SamePairs, int DifferentPairs, double Accuracy, double Far, double Frr, double Threshold);
