namespace FaceNet.Evaluation;

/// <summary>
/// The error rates of ISO/IEC 30107-3 at one threshold: APCER, the share of attacks accepted as live;
/// BPCER, the share of live faces refused; ACER, their mean. A face that cannot be judged is refused: a
/// live one counts in BPCER, an attack one as stopped; both are also counted apart. Photos without a face
/// are left out of both rates (the liveness check never saw them) and counted apart.
/// </summary>
public sealed record LivenessRates(double Threshold, int Attacks, int BonaFide, int AttacksAccepted, int BonaFideRefused, int AttacksUnjudged,
    int BonaFideUnjudged)
{
    public double Apcer => Attacks == 0 ? double.NaN : (double)AttacksAccepted / Attacks;
    public double Bpcer => BonaFide == 0 ? double.NaN : (double)BonaFideRefused / BonaFide;
    public double Acer => (Apcer + Bpcer) / 2;

    /// <summary>The share of all faces called correctly (live accepted, attacks refused).</summary>
    public double Accuracy => Attacks + BonaFide == 0 ? double.NaN : 1 - (double)(AttacksAccepted + BonaFideRefused) / (Attacks + BonaFide);
}
