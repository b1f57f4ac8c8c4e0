namespace FaceNet.Embedding;

/// <summary>A model file that cannot be used: missing, not ONNX, or not an embedding network.</summary>
public sealed class ModelException : Exception
{
    public ModelException(string file, string reason, Exception? inner = null) : base($"{file}: {reason}", inner)
    {
        File = file;
        Reason = reason;
    }

    public string File { get; }
    public string Reason { get; }
}
