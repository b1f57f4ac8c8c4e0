namespace FaceNet.Evaluation;

/// <summary>Figures of the verification protocol; distances are "smaller = more alike".</summary>
public sealed record ProtocolResult
{
    public int Pairs { get; init; }
    public int Folds { get; init; }
    /// <summary>Mean over folds of the accuracy at the threshold chosen on the other folds.</summary>
    public double Accuracy { get; init; }
    public double AccuracyStd { get; init; }
    /// <summary>Validation rate (true accepts) at <see cref="FarTarget"/>, threshold interpolated on the training folds.</summary>
    public double Val { get; init; }
    public double ValStd { get; init; }
    /// <summary>The false-accept rate actually reached on the test folds, mean.</summary>
    public double Far { get; init; }
    public double FarTarget { get; init; }
    public double Auc { get; init; }
    public double Eer { get; init; }
    /// <summary>The accuracy-maximising threshold on all pairs.</summary>
    public double Threshold { get; init; }
    /// <summary>The thresholds chosen per fold, each on the other folds.</summary>
    public double[] FoldThresholds { get; init; } = [];
    /// <summary>ROC points over all pairs: false-accept rate, true-accept rate, threshold.</summary>
    public (double Far, double Tar, double Threshold)[] Roc { get; init; } = [];
}
