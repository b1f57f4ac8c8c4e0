namespace FaceNet.Matching;

/// <summary>Decides "same person" from two embeddings under a metric and threshold.</summary>
[Obsolete("Nothing uses it: FaceRecognizer.Verify and Compare decide with the model's (pose-aware) thresholds. Removed in the next release.")]
public sealed class Verifier(Metric metric, double threshold)
{
    public Metric Metric { get; } = metric;
    public double Threshold { get; } = threshold;

    public Verification Verify(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => new(Distance.Of(Metric, a, b), Threshold, Metric);
}
