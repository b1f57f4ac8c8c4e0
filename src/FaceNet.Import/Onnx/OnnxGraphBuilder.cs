using FaceNet.Onnx;
using System.Runtime.InteropServices;
using FaceNet.Onnx.Proto;
using Google.Protobuf;

namespace FaceNet.Import.Onnx;

/// <summary>
/// A small builder for ONNX graphs: named float initializers, NCHW inputs with a dynamic batch
/// dimension, and the handful of operators our face networks need. It writes a ModelProto through
/// the generated protobuf classes; ONNX Runtime does the computing.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>Default opset: supported by every ONNX Runtime of the last years.</summary>
    public const int DefaultOpset = 17;

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private readonly int _opset;
    private int _counter;

    public OnnxGraphBuilder(string graphName, int opset = DefaultOpset)
    {
        _graph = new GraphProto { Name = graphName };
        _opset = opset;
    }

    /// <summary>Declares a float input; a dimension of -1 becomes the symbolic <c>batch</c>.</summary>
    public string Input(string name, params long[] shape)
    {
        Reserve(name);
        _graph.Input.Add(ValueInfo(name, shape));
        return name;
    }

    /// <summary>Marks an existing value as a graph output; -1 dimensions are symbolic.</summary>
    public void Output(string value, params long[] shape) => _graph.Output.Add(ValueInfo(value, shape));

    /// <summary>
    /// A float initializer. The array is wrapped, not copied (the model's weights are the largest thing
    /// an import holds): the caller must not change it afterwards.
    /// </summary>
    public string Initializer(string name, float[] data, params long[] dims)
    {
        long count = 1;
        foreach (var d in dims) count *= d;
        if (count != data.Length)
            throw new ArgumentException($"initializer {name}: {data.Length} values for shape [{string.Join(",", dims)}]");
        Reserve(name);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        // raw_data is little-endian float32, which is the in-memory layout on every platform .NET runs on.
        t.RawData = UnsafeByteOperations.UnsafeWrap(new FloatBytes(data).Memory);
        _graph.Initializer.Add(t);
        return name;
    }

    /// <summary>
    /// A float tensor stored as uint8 with its affine map, value = q·scale + min, computed in the graph in
    /// double precision and rounded once (as TensorFlow.js de-quantises), on initializers only, so ONNX
    /// Runtime folds it once when it loads the model. Keeps a TF.js-quantised network as small in ONNX as
    /// it was, with the same float values.
    /// </summary>
    public string DequantizedInitializer(string name, byte[] q, double scale, double min, params long[] dims)
    {
        Reserve(name + "_q");
        var t = new TensorProto { Name = name + "_q", DataType = (int)TensorProto.Types.DataType.Uint8 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(q);
        _graph.Initializer.Add(t);
        var d = Node("Cast", [name + "_q"], name + "_d", Int("to", (int)TensorProto.Types.DataType.Double));
        var scaled = Mul(d, InitializerDouble(name + "_scale", scale), name + "_scaled");
        var shifted = Add(scaled, InitializerDouble(name + "_min", min), name + "_shifted");
        return Node("Cast", [shifted], name, Int("to", (int)TensorProto.Types.DataType.Float));
    }

    private string InitializerDouble(string name, double value)
    {
        Reserve(name);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Double };
        t.RawData = ByteString.CopyFrom(BitConverter.GetBytes(value));
        _graph.Initializer.Add(t);
        return name;
    }

    public string InitializerInt64(string name, ReadOnlySpan<long> data, params long[] dims)
    {
        Reserve(name);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(t);
        return name;
    }

    public void Metadata(string key, string value) => _metadata[key] = value;

    /// <summary>Adds one node and returns the name of its (first) output.</summary>
    public string Node(string opType, string[] inputs, string? name = null, params AttributeProto[] attributes)
    {
        var output = Unique(name ?? opType);
        Reserve(output);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    public string Conv(string x, string weight, string? bias, int kh, int kw, int stride, int padH, int padW, string? name = null)
        => Node("Conv", bias is null ? [x, weight] : [x, weight, bias], name,
            Ints("kernel_shape", kh, kw), Ints("strides", stride, stride), Ints("pads", padH, padW, padH, padW),
            Ints("dilations", 1, 1), Int("group", 1));

    /// <summary>A grouped convolution (<paramref name="group"/> = input channels: depthwise), strides and pads per axis as given.</summary>
    public string Conv(string x, string weight, string? bias, int kh, int kw, int stride, int padH, int padW, int group, string? name)
        => Node("Conv", bias is null ? [x, weight] : [x, weight, bias], name,
            Ints("kernel_shape", kh, kw), Ints("strides", stride, stride), Ints("pads", padH, padW, padH, padW),
            Ints("dilations", 1, 1), Int("group", group));

    public string Relu(string x, string? name = null) => Node("Relu", [x], name);

    public string Sigmoid(string x, string? name = null) => Node("Sigmoid", [x], name);

    public string PRelu(string x, string slope, string? name = null) => Node("PRelu", [x, slope], name);

    public string MaxPool(string x, int kernel, int stride, int pad = 0, string? name = null, bool ceil = false)
        => Node("MaxPool", [x], name, Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride),
            Ints("pads", pad, pad, pad, pad), Int("ceil_mode", ceil ? 1 : 0));

    public string Concat(int axis, string[] inputs, string? name = null) => Node("Concat", inputs, name, Int("axis", axis));

    public string Add(string a, string b, string? name = null) => Node("Add", [a, b], name);

    public string Mul(string a, string b, string? name = null) => Node("Mul", [a, b], name);

    public string GlobalAveragePool(string x, string? name = null) => Node("GlobalAveragePool", [x], name);

    public string Flatten(string x, int axis = 1, string? name = null) => Node("Flatten", [x], name, Int("axis", axis));

    /// <summary>Y = A·B (+ C); with <paramref name="transB"/> B is stored [out, in] as PyTorch does.</summary>
    public string Gemm(string a, string b, string? c, bool transB, string? name = null)
        => Node("Gemm", c is null ? [a, b] : [a, b, c], name, Float("alpha", 1f), Float("beta", 1f), Int("transB", transB ? 1 : 0));

    public string MatMul(string a, string b, string? name = null) => Node("MatMul", [a, b], name);

    public string Transpose(string x, int[] perm, string? name = null) => Node("Transpose", [x], name, Ints("perm", perm));

    public string Softmax(string x, int axis, string? name = null) => Node("Softmax", [x], name, Int("axis", axis));

    /// <summary>x / max(‖x‖₂, tiny) along <paramref name="axis"/>: L2 normalisation inside the graph.</summary>
    public string L2Normalize(string x, int axis, string? name = null)
    {
        var norm = Node("ReduceL2", [x], (name ?? "l2") + "_norm", Ints("axes", axis), Int("keepdims", 1));
        var floor = Initializer(Unique((name ?? "l2") + "_eps"), [1e-5f]);
        var safe = Node("Max", [norm, floor], (name ?? "l2") + "_safe");
        return Node("Div", [x, safe], name ?? "l2");
    }

    public ModelProto Build(string producerVersion = "1.0")
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "FaceNet for .NET",
            ProducerVersion = producerVersion,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        foreach (var (k, v) in _metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }

    public byte[] ToBytes() => Build().ToByteArray();

    /// <summary>The bytes of a float array as <see cref="Memory{T}"/>, without a copy.</summary>
    private sealed class FloatBytes(float[] data) : System.Buffers.MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(data.AsSpan());

        public override unsafe System.Buffers.MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(data, GCHandleType.Pinned);
            return new System.Buffers.MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }

    private static ValueInfoProto ValueInfo(string name, long[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        foreach (var d in shape)
            tensor.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private void Reserve(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"duplicate ONNX value name '{name}'");
    }

    private string Unique(string baseName)
    {
        var n = baseName;
        while (_names.Contains(n)) n = $"{baseName}_{++_counter}";
        return n;
    }

    internal static AttributeProto Ints(string name, params int[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        foreach (var v in values) a.Ints.Add(v);
        return a;
    }

    internal static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    internal static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
}
