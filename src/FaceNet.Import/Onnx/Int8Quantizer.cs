using FaceNet.Onnx;
using System.Runtime.InteropServices;
using FaceNet.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = FaceNet.Onnx.Proto.TensorProto.Types.DataType;

namespace FaceNet.Import.Onnx;

/// <summary>How <see cref="Int8Quantizer"/> quantizes.</summary>
internal sealed record QuantizeSettings
{
    /// <summary>Share of each activation's values kept inside its range (the rest clip); 1: min/max. Chosen on LFW DevTrain (1, 0.9999, 0.99999 within one pair of each other and of float).</summary>
    public double Percentile { get; init; } = 0.9999;

    /// <summary>Keep the first convolution (which sees the raw image) in float (measured: no accuracy gained, a fifth of the speed-up lost on the ResNet).</summary>
    public bool KeepFirstFloat { get; init; }

    /// <summary>Keep the last matrix product (the embedding layer) in float.</summary>
    public bool KeepLastFloat { get; init; } = true;

    /// <summary>
    /// Weights use ±63 instead of ±127 (7 bits, ONNX Runtime's "reduce range"): on x64 CPUs without VNNI (AVX2,
    /// AVX-512 without VNNI) ONNX Runtime multiplies uint8 by int8 with 16-bit pair sums, which overflow at
    /// 255·127·2 and then saturate — measured on an AVX2 machine, MobileFaceNet's int8 embeddings moved 0.30 from
    /// float instead of 0.15. With 7 bits the sums fit on every CPU, at a small cost on VNNI ones.
    /// </summary>
    public bool ReduceRange { get; init; } = true;
}

/// <summary>
/// Static int8 quantization of a float ONNX model in the QDQ form that ONNX Runtime runs on its integer
/// kernels (VNNI on x64): convolution and matrix weights as int8, symmetric, one scale per output channel;
/// biases as int32 at input scale × weight scale; activations as uint8 with a zero point, their ranges
/// measured on calibration inputs. The float model is first simplified by ONNX Runtime itself (constant
/// folding, batch norm and affine layers folded into the convolutions), so quantization sees the graph
/// that runs. A ReLU after a quantized convolution is dropped: quantizing its output with zero point 0
/// clips at zero already. Everything else (residual additions, pools, the L2 norm) stays float.
/// </summary>
internal static class Int8Quantizer
{
    private static readonly HashSet<string> QuantizedOps = ["Conv", "Gemm", "MatMul"];

    public sealed record Report(int QuantizedNodes, int FloatNodes, int Tensors, IReadOnlyDictionary<string, int> FloatOps);

    /// <summary>
    /// The quantized model. <paramref name="calibration"/> gives input batches exactly as the model is fed
    /// (preprocessed, its layout); a few hundred faces are enough.
    /// </summary>
    public static (byte[] Onnx, Report Report) Quantize(byte[] onnx, IEnumerable<(float[] Data, long[] Shape)> calibration, QuantizeSettings? settings = null)
    {
        settings ??= new QuantizeSettings();
        var model = ModelProto.Parser.ParseFrom(Simplify(onnx));
        RaiseOpset(model, 13); // per-channel QuantizeLinear/DequantizeLinear
        var graph = model.Graph;
        var inits = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var consumers = Consumers(graph);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        // nodes whose weights become int8
        var weighted = graph.Node.Where(n => QuantizedOps.Contains(n.OpType) && n.Input.Count >= 2 && inits.ContainsKey(n.Input[1])
                                             && IsFloat(inits[n.Input[1]]) && !(n.OpType == "Gemm" && Attr(n, "transA") == 1)).ToList();
        if (settings.KeepFirstFloat && weighted.FirstOrDefault(n => n.OpType == "Conv") is { } first) weighted.Remove(first);
        if (settings.KeepLastFloat && weighted.LastOrDefault(n => n.OpType is "Gemm" or "MatMul") is { } last) weighted.Remove(last);
        var weightedSet = weighted.ToHashSet();

        // a ReLU that is the only consumer of a quantized node's output is folded into that output's quantization
        var reluOf = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in weighted)
            if (consumers.TryGetValue(n.Output[0], out var cs) && cs.Count == 1 && IsRelu(cs[0], inits) && !outputs.Contains(n.Output[0]))
                reluOf[n.Output[0]] = cs[0];

        // activations to quantize: inputs and outputs of weighted nodes. Quantizing Add, pools and Pad between them as
        // well was measured slower on the ResNet (ONNX Runtime's int8 versions of those do not pay for their conversions).
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in weighted)
        {
            tensors.Add(n.Input[0]);
            tensors.Add(reluOf.TryGetValue(n.Output[0], out var relu) ? relu.Output[0] : n.Output[0]);
        }
        tensors.RemoveWhere(t => outputs.Contains(t) || inits.ContainsKey(t));

        var ranges = Calibrate(model, tensors, calibration, settings.Percentile);
        var q = ranges.ToDictionary(p => p.Key, p => ActivationParams(p.Value.Min, p.Value.Max), StringComparer.Ordinal);

        // rewrite: weights → int8 + DQ; activations → Q + DQ after their producer; folded ReLUs removed
        var newNodes = new List<NodeProto>();
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal); // tensor → its dequantized copy
        void Quantize(string tensor)
        {
            var (scale, zero) = q[tensor];
            var s = AddInit(graph, inits, tensor + "_scale", DataType.Float, MemoryMarshal.AsBytes(new[] { scale }.AsSpan()).ToArray());
            var z = AddInit(graph, inits, tensor + "_zero", DataType.Uint8, [zero]);
            newNodes.Add(Node("QuantizeLinear", [tensor, s, z], tensor + "_q"));
            newNodes.Add(Node("DequantizeLinear", [tensor + "_q", s, z], tensor + "_dq"));
            renamed[tensor] = tensor + "_dq";
        }
        foreach (var input in graph.Input.Select(i => i.Name).Where(tensors.Contains)) Quantize(input);
        var dropped = new HashSet<NodeProto>(reluOf.Values);
        var quantized = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Node)
        {
            if (dropped.Contains(n)) continue;
            var node = n.Clone();
            for (int i = 0; i < node.Input.Count; i++)
                if (renamed.TryGetValue(node.Input[i], out var r)) node.Input[i] = r;
            if (weightedSet.Contains(n))
            {
                QuantizeWeights(graph, inits, node, q[n.Input[0]].Scale, newNodes, settings.ReduceRange ? 63 : 127);
                quantized.Add(node);
            }
            if (reluOf.TryGetValue(n.Output[0], out var relu)) node.Output[0] = relu.Output[0]; // the ReLU's output is this node's, clipped by its Q
            newNodes.Add(node);
            foreach (var o in node.Output) if (tensors.Contains(o)) Quantize(o);
        }
        graph.Node.Clear();
        graph.Node.AddRange(newNodes);
        // weights now held as int8: drop their float originals
        var used = newNodes.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var keep = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(keep);
        graph.ValueInfo.Clear(); // shapes are inferred again by the runtime

        var floatOps = graph.Node.Where(n => n.OpType is not ("QuantizeLinear" or "DequantizeLinear") && !quantized.Contains(n))
            .GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        return (model.ToByteArray(), new Report(weighted.Count, floatOps.Values.Sum(), tensors.Count, floatOps));
    }

    /// <summary>ONNX Runtime's basic graph optimisations (standard operators only), written back as a model.</summary>
    private static byte[] Simplify(byte[] onnx)
    {
        var file = Path.Combine(Path.GetTempPath(), $"facenet-simplified-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, OptimizedModelFilePath = file })
            using (new InferenceSession(onnx, options)) { }
            return File.ReadAllBytes(file);
        }
        finally { File.Delete(file); }
    }

    private static void RaiseOpset(ModelProto model, int opset)
    {
        var main = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (main is null) model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        else if (main.Version < opset)
        {
            // operators whose signature changed by opset 13: refuse rather than write a wrong model
            var changed = model.Graph.Node.Select(n => n.OpType).Where(o => o is "Squeeze" or "Unsqueeze" or "Split" or "ReduceSum" or "Pad" or "Clip" or "Resize" or "Upsample").Distinct().ToList();
            if (changed.Count > 0 && main.Version < 11)
                throw new NotSupportedException($"opset {main.Version} model with {string.Join(", ", changed)}: convert it to opset 13 first");
            if (model.Graph.Node.Any(n => n.OpType is "Squeeze" or "Unsqueeze" or "Split" or "ReduceSum"))
                throw new NotSupportedException($"opset {main.Version} model with Squeeze/Unsqueeze/Split/ReduceSum: convert it to opset 13 first");
            main.Version = opset;
        }
        if (model.IrVersion < 7) model.IrVersion = 7;
    }

    /// <summary>Each tensor's clipping range: min/max, or the given share of its values by histogram.</summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(ModelProto model, HashSet<string> tensors,
        IEnumerable<(float[] Data, long[] Shape)> batches, double percentile)
    {
        var probe = model.Clone();
        foreach (var t in tensors.Where(t => probe.Graph.Output.All(o => o.Name != t)))
            probe.Graph.Output.Add(new ValueInfoProto { Name = t,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var inputName = session.InputMetadata.Keys.First();
        var names = tensors.ToArray();
        var kept = batches.ToList();
        if (kept.Count == 0) throw new ArgumentException("no calibration input");

        var min = names.ToDictionary(n => n, _ => float.MaxValue, StringComparer.Ordinal);
        var max = names.ToDictionary(n => n, _ => float.MinValue, StringComparer.Ordinal);
        void Pass(Action<string, ReadOnlySpan<float>> take)
        {
            foreach (var (data, shape) in kept)
            {
                using var value = OrtValue.CreateTensorValueFromMemory(data, shape);
                using var run = new RunOptions();
                using var results = session.Run(run, [inputName], [value], names);
                for (int i = 0; i < names.Length; i++) take(names[i], results[i].GetTensorDataAsSpan<float>());
            }
        }
        Pass((n, v) =>
        {
            foreach (var x in v)
            {
                if (x < min[n]) min[n] = x;
                if (x > max[n]) max[n] = x;
            }
        });
        if (percentile >= 1) return names.ToDictionary(n => n, n => (min[n], max[n]), StringComparer.Ordinal);

        // second pass: a histogram of each tensor over its full range; clip the tails holding 1 - percentile
        const int Bins = 4096;
        var hist = names.ToDictionary(n => n, _ => new long[Bins], StringComparer.Ordinal);
        Pass((n, v) =>
        {
            float lo = min[n], width = Math.Max(max[n] - lo, 1e-12f) / Bins;
            var h = hist[n];
            foreach (var x in v) h[Math.Clamp((int)((x - lo) / width), 0, Bins - 1)]++;
        });
        var ranges = new Dictionary<string, (float, float)>(StringComparer.Ordinal);
        foreach (var n in names)
        {
            var h = hist[n];
            long total = h.Sum(), tail = (long)Math.Floor(total * (1 - percentile) / 2);
            int a = 0, b = Bins - 1;
            for (long acc = 0; a < Bins - 1 && acc + h[a] <= tail; a++) acc += h[a];
            for (long acc = 0; b > a && acc + h[b] <= tail; b--) acc += h[b];
            float width = Math.Max(max[n] - min[n], 1e-12f) / Bins;
            ranges[n] = (min[n] + a * width, min[n] + (b + 1) * width);
        }
        return ranges;
    }

    /// <summary>uint8 scale and zero point for a range (widened to hold 0, so zero padding is exact).</summary>
    private static (float Scale, byte Zero) ActivationParams(float min, float max)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        float scale = Math.Max((max - min) / 255f, 1e-8f);
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    /// <summary>int8 weights per output channel, int32 bias, each behind a DequantizeLinear.</summary>
    private static void QuantizeWeights(GraphProto graph, Dictionary<string, TensorProto> inits, NodeProto node, float inputScale,
        List<NodeProto> nodes, int levels)
    {
        var w = inits[node.Input[1]];
        var values = Floats(w);
        var dims = w.Dims.ToArray();
        // the output-channel axis: Conv [M,C,kh,kw] → 0; Gemm B [K,N] → 1, or [N,K] with transB → 0; MatMul B [K,N] → 1
        int axis = node.OpType == "Conv" || (node.OpType == "Gemm" && Attr(node, "transB") == 1) ? 0 : dims.Length - 1;
        int channels = (int)dims[axis];
        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var scales = new float[channels];
        for (int i = 0; i < values.Length; i++)
        {
            int c = (int)(i / inner % channels);
            scales[c] = Math.Max(scales[c], Math.Abs(values[i]));
        }
        for (int c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / levels : 1f;
        var qw = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
            qw[i] = (byte)(sbyte)Math.Clamp(Math.Round(values[i] / scales[(int)(i / inner % channels)]), -levels, levels);
        string baseName = node.Input[1];
        var qName = AddInit(graph, inits, baseName + "_int8", DataType.Int8, qw, dims);
        var sName = AddInit(graph, inits, baseName + "_wscale", DataType.Float, MemoryMarshal.AsBytes(scales.AsSpan()).ToArray(), channels);
        var zName = AddInit(graph, inits, baseName + "_wzero", DataType.Int8, new byte[channels], channels);
        nodes.Add(Node("DequantizeLinear", [qName, sName, zName], baseName + "_dq", axis));
        node.Input[1] = baseName + "_dq";

        if (node.Input.Count > 2 && node.Input[2].Length > 0 && inits.TryGetValue(node.Input[2], out var b) && node.OpType != "MatMul")
        {
            var bias = Floats(b);
            if (bias.Length != channels) return; // a broadcast Gemm bias stays float
            var bs = new float[channels];
            var qb = new int[channels];
            for (int c = 0; c < channels; c++)
            {
                bs[c] = inputScale * scales[c];
                qb[c] = (int)Math.Clamp(Math.Round(bias[c] / bs[c]), int.MinValue + 1, int.MaxValue);
            }
            string bn = node.Input[2];
            var qbName = AddInit(graph, inits, bn + "_int32", DataType.Int32, MemoryMarshal.AsBytes(qb.AsSpan()).ToArray(), channels);
            var bsName = AddInit(graph, inits, bn + "_bscale", DataType.Float, MemoryMarshal.AsBytes(bs.AsSpan()).ToArray(), channels);
            var bzName = AddInit(graph, inits, bn + "_bzero", DataType.Int32, new byte[channels * 4], channels);
            nodes.Add(Node("DequantizeLinear", [qbName, bsName, bzName], bn + "_dq", 0));
            node.Input[2] = bn + "_dq";
        }
    }

    private static NodeProto Node(string op, string[] inputs, string output, int? axis = null)
    {
        var n = new NodeProto { OpType = op, Name = output };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        if (axis is { } a) n.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        return n;
    }

    private static string AddInit(GraphProto graph, Dictionary<string, TensorProto> inits, string name, DataType type, byte[] raw, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        graph.Initializer.Add(t);
        inits[name] = t;
        return name;
    }

    /// <summary>ReLU, or a Clip from 0 (ReLU6): both are what a uint8 quantization with zero point 0 does to values below 0.</summary>
    private static bool IsRelu(NodeProto n, Dictionary<string, TensorProto> inits)
    {
        if (n.OpType == "Relu") return true;
        if (n.OpType != "Clip") return false;
        if (n.Input.Count >= 2 && n.Input[1].Length > 0)
            return inits.TryGetValue(n.Input[1], out var lo) && IsFloat(lo) && Floats(lo) is [0f];
        return n.Attribute.FirstOrDefault(a => a.Name == "min") is { } min && min.F == 0f;
    }

    private static bool IsFloat(TensorProto t) => t.DataType == (int)DataType.Float;

    private static float[] Floats(TensorProto t)
    {
        if (t.DataType != (int)DataType.Float) throw new NotSupportedException($"initializer {t.Name} is not float32");
        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray();
    }

    private static long Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;

    private static Dictionary<string, List<NodeProto>> Consumers(GraphProto graph)
    {
        var d = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
            foreach (var i in n.Input.Where(i => i.Length > 0))
                (d.TryGetValue(i, out var l) ? l : d[i] = []).Add(n);
        return d;
    }
}
