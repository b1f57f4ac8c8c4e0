namespace FaceNet.Import.Weights;

/// <summary>A float32 tensor read from a weight file, C-order.</summary>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data)
{
    public string ShapeText => "[" + string.Join(",", Shape) + "]";

    /// <summary>
    /// For TF.js uint8-quantised tensors: the stored bytes and their affine map (value = q·scale + min),
    /// so a graph can keep them quantised and de-quantise when the model is loaded.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "the storage format's own name")]
    public (byte[] Values, double Scale, double Min)? Uint8 { get; init; }
}
