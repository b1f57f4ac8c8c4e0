namespace FaceNet.Embedding;

/// <summary>A model file that cannot be used: missing, not ONNX, or not an embedding network.</summary>
public sealed class ModelException(string file, string reason, Exception? inner = null) : FaceNetException(file, reason, inner,
    kind: FaceNetErrorKind.BadModel);
