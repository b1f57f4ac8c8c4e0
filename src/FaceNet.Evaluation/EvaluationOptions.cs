namespace FaceNet.Evaluation;

/// <summary>Options of <see cref="Evaluator"/>.</summary>
public sealed record EvaluationOptions
{
    public int Folds { get; init; } = 10;
    public double FarTarget { get; init; } = 1e-3;
    /// <summary>Where embeddings are cached; null: no cache.</summary>
    public string? CacheDirectory { get; init; }
    /// <summary>Embed the image centre when no face is found (as papers do), instead of counting a failure.</summary>
    public bool FallbackCenterCrop { get; init; }
    /// <summary>Called with (done, total) as images are embedded.</summary>
    public Action<int, int>? Progress { get; init; }
}
