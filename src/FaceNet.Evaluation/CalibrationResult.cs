namespace FaceNet.Evaluation;

/// <summary>A threshold chosen for a target error rate, with what it costs and how sure it is.</summary>
public sealed record CalibrationResult
{
    public double Threshold { get; init; }
    /// <summary>"far" or "frr": which rate was targeted; "accuracy" for the accuracy-maximising threshold.</summary>
    public string Target { get; init; } = "far";
    public double TargetRate { get; init; }
    /// <summary>False-accept rate measured at the threshold, with a 95% Wilson interval.</summary>
    public double Far { get; init; }
    public double FarLow { get; init; }
    public double FarHigh { get; init; }
    /// <summary>False-reject rate measured at the threshold, with a 95% Wilson interval.</summary>
    public double Frr { get; init; }
    public double FrrLow { get; init; }
    public double FrrHigh { get; init; }
    public int GenuinePairs { get; init; }
    public int ImpostorPairs { get; init; }
    /// <summary>False when there are too few impostor pairs to observe the target FAR at all (fewer than 3/FAR).</summary>
    public bool Sufficient { get; init; }
}
