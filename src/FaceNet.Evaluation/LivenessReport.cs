namespace FaceNet.Evaluation;

/// <summary>An evaluation's figures: the rates at the threshold in use, BPCER at APCER 5 % and 1 %, the DET curve, and what was left out.</summary>
public sealed record LivenessReport(IReadOnlyList<LivenessSample> Samples, LivenessRates AtThreshold, LivenessRates? AtApcer5, LivenessRates? AtApcer1,
    IReadOnlyList<LivenessRates> Curve, IReadOnlyList<string> Failures, double Seconds)
{
    public int NoFaceLive => Samples.Count(s => s.NoFace && !s.Attack);
    public int NoFaceAttacks => Samples.Count(s => s.NoFace && s.Attack);
}
