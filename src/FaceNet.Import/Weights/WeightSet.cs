namespace FaceNet.Weights;

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

/// <summary>Where a weight file comes from: decides the layer naming and the defaults of the imported model.</summary>
public enum WeightFormat
{
    /// <summary>Keras HDF5 with the seed's layer names (<c>facenet_keras.h5</c>).</summary>
    Keras,
    /// <summary>PyTorch zip <c>.pt</c> state dict in facenet-pytorch's naming.</summary>
    Torch,
    /// <summary>safetensors with facenet-pytorch's naming.</summary>
    Safetensors,
    /// <summary>TensorFlow.js manifest + shards: the face-api.js recognition network (a ResNet after dlib's).</summary>
    Tfjs,
    /// <summary>An ONNX face model from elsewhere: its graph is kept and the metadata written into it.</summary>
    Onnx,
    /// <summary>A TensorFlow.js graph model (<c>model.json</c> with its nodes and weights): converted op by op to ONNX.</summary>
    TfjsGraph,
}

/// <summary>All tensors of one weight file, by name.</summary>
public sealed class WeightSet
{
    private readonly Dictionary<string, NamedTensor> _tensors;

    public WeightSet(string source, WeightFormat format, IEnumerable<NamedTensor> tensors)
    {
        Source = source;
        Format = format;
        _tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var t in tensors) _tensors[t.Name] = t;
    }

    public string Source { get; }
    public WeightFormat Format { get; }
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    public int Count => _tensors.Count;

    public bool TryGet(string name, out NamedTensor tensor) => _tensors.TryGetValue(name, out tensor!);
}

/// <summary>A weight file that cannot be used: unreadable, not the expected format, or not matching the network.</summary>
public sealed class WeightsException(string file, string reason, Exception? inner = null) : FaceNetException(file, reason, inner,
    kind: FaceNetErrorKind.BadModel);
