namespace FaceNet.Evaluation;

/// <summary>
/// What a threshold calibration is asked: the labelled faces (<see cref="Root"/>, a folder of identities, or the
/// folder a <see cref="Pairs"/> file is relative to), the goal, where the impostor tail and the pose bands come from.
/// </summary>
public sealed record CalibrationRequest(string Root)
{
    public string? Pairs { get; init; }
    public CalibrationGoal Goal { get; init; } = CalibrationGoal.Far;

    /// <summary>The target FAR or FRR.</summary>
    public double Rate { get; init; } = 1e-3;

    /// <summary>A folder of identities for the impostor tail (default: <see cref="Root"/> when it is one).</summary>
    public string? TailFrom { get; init; }

    /// <summary>Folders of identities (each its own people) that set a threshold per band of pose difference; with <see cref="CalibrationGoal.KeepThreshold"/>.</summary>
    public IReadOnlyList<string>? PoseFrom { get; init; }

    /// <summary>The embedding cache folder; null: none.</summary>
    public string? CacheDirectory { get; init; }
}
