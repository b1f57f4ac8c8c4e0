using FaceNet.Alignment;

namespace FaceNet.Embedding;

/// <summary>Options of <see cref="FaceModel.Load"/>. Non-null overrides win over what the model file says.</summary>
public sealed record FaceModelOptions
{
    /// <summary>ONNX Runtime intra-op threads per network; 0 lets ONNX Runtime choose.</summary>
    public int Threads { get; init; }

    /// <summary>Largest batch sent to a network at once.</summary>
    public int MaxBatch { get; init; } = 32;

    public string? Preprocess { get; init; }
    public double? Threshold { get; init; }

    /// <summary>Overrides the alignment of a single-network model (a fused model's members keep theirs).</summary>
    public AlignmentSpec? Alignment { get; init; }

    /// <summary>Test-time flip averaging for every network: the embedding of the crop plus that of its mirror image.</summary>
    public bool Flip { get; init; }

    /// <summary>Turns a weights file into ONNX model bytes (see <see cref="EmbedderOptions.ImportWeights"/>).</summary>
    public Func<string, byte[]>? ImportWeights { get; init; }

    /// <summary>ONNX Runtime session options (execution providers, …) used for every network instead of ours.</summary>
    public Microsoft.ML.OnnxRuntime.SessionOptions? SessionOptions { get; init; }
}
