using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Embedding;

/// <summary>Options of <see cref="FaceEmbedder"/>. Non-null overrides win over the model's metadata.</summary>
public sealed record EmbedderOptions
{
    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int Threads { get; init; }

    /// <summary>Largest batch sent to the network at once.</summary>
    public int MaxBatch { get; init; } = 32;

    public string? Preprocess { get; init; }
    public int? InputSize { get; init; }
    public double? Threshold { get; init; }
    public Matching.Metric? Metric { get; init; }

    /// <summary>
    /// Turns a weights file (<c>.h5</c>, <c>.pt</c>, <c>.safetensors</c>, TF.js) into ONNX model bytes, so such a
    /// file can be given as the model: the package FaceNet.Import provides it (<c>WeightImporter.ImportBytes</c>).
    /// </summary>
    public Func<string, byte[]>? ImportWeights { get; init; }

    /// <summary>ONNX Runtime session options (execution providers, …) to use instead of ours; the caller keeps ownership.</summary>
    public SessionOptions? SessionOptions { get; init; }
}
