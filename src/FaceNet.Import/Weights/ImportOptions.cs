namespace FaceNet.Import.Weights;

/// <summary>Options of <see cref="WeightImporter"/>; null members follow the defaults of where the weights come from.</summary>
public sealed record ImportOptions
{
    public WeightFormat? Format { get; init; }
    public string? Preprocess { get; init; }
    public int? EmbeddingSize { get; init; }
    public double? Threshold { get; init; }
    public string? Alignment { get; init; }
    public int? InputSize { get; init; }
    public Matching.Metric? Metric { get; init; }
    public string? Name { get; init; }
    /// <summary>TF.js graph models: the node whose output is the embedding (default: the widest vector output).</summary>
    public string? OutputNode { get; init; }
}
