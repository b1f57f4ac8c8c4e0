using System.Runtime.InteropServices;
using FaceNet.Onnx.Proto;
using Google.Protobuf;

namespace FaceNet.Training;

/// <summary>
/// A trained head written onto its base network as one ONNX face model: base → flatten → L2 → head → L2.
/// The base graph and weights are carried over unchanged; the head's weights are new initializers.
/// </summary>
internal static class HeadExport
{
    public static byte[] Append(byte[] baseOnnx, EmbeddingHead head, IEnumerable<KeyValuePair<string, string>> metadata, string file)
    {
        var model = ModelProto.Parser.ParseFrom(baseOnnx);
        var g = model.Graph;
        var output = g.Output[0];
        string x = output.Name;
        var batchDim = output.Type?.TensorType?.Shape?.Dim.Count > 0 ? output.Type.TensorType.Shape.Dim[0].Clone() : new TensorShapeProto.Types.Dimension { DimParam = "batch" };
        x = Node(g, "Flatten", [x], "head_flatten", ("axis", 1));
        x = Node(g, "LpNormalization", [x], "head_base_l2", ("axis", 1), ("p", 2));
        int e = head.InputSize, d = head.OutputSize, h = head.HiddenSize;
        var w = head.Parameters;
        string z;
        if (head.Kind == HeadKind.Linear)
        {
            var wt = Transpose(w, 0, d, e); // W is D×E; MatMul wants E×D
            z = Node(g, "Add", [Node(g, "MatMul", [x, Init(g, "head_w", wt, e, d)], "head_matmul"),
                Init(g, "head_b", w[(d * e)..(d * e + d)], d)], "head_linear");
        }
        else
        {
            int b1 = h * e, w2 = b1 + h, b2 = w2 + e * h;
            var hidden = Node(g, "Relu", [Node(g, "Add",
                [Node(g, "MatMul", [x, Init(g, "head_w1", Transpose(w, 0, h, e), e, h)], "head_matmul1"),
                Init(g, "head_b1", w[b1..w2], h)], "head_add1")], "head_relu");
            var correction = Node(g, "Add", [Node(g, "MatMul", [hidden, Init(g, "head_w2", Transpose(w, w2, e, h), h, e)],
                "head_matmul2"), Init(g, "head_b2", w[b2..(b2 + e)], e)], "head_add2");
            z = Node(g, "Add", [x, correction], "head_residual");
        }
        var y = Node(g, "LpNormalization", [z], "embedding_trained", ("axis", 1), ("p", 2));
        g.Output.Clear();
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        tensor.Shape.Dim.Add(batchDim);
        tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        g.Output.Add(new ValueInfoProto { Name = y, Type = new TypeProto { TensorType = tensor } });
        return Onnx.OnnxModelFile.WithMetadata(model.ToByteArray(), metadata, file, remove: [Models.ModelInfo.KeyIdentityAliases]);
    }

    /// <summary>rows×cols block of <paramref name="w"/> at <paramref name="offset"/>, transposed.</summary>
    private static float[] Transpose(float[] w, int offset, int rows, int cols)
    {
        var t = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = w[offset + r * cols + c];
        return t;
    }

    private static string Init(GraphProto g, string name, float[] data, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
        t.Dims.AddRange(dims);
        g.Initializer.Add(t);
        return name;
    }

    private static string Node(GraphProto g, string op, string[] inputs, string output, params (string Name, long Value)[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = output };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        foreach (var (name, value) in attributes) n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        g.Node.Add(n);
        return output;
    }
}
