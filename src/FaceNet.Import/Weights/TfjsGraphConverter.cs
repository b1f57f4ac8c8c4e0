using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceNet.Onnx;

namespace FaceNet.Weights;

/// <summary>
/// Converts a TensorFlow.js <em>graph model</em> (<c>model.json</c> with <c>modelTopology.node[]</c> and a
/// <c>weightsManifest</c>, as <c>tensorflowjs_converter</c> writes it) into an ONNX graph with our builder.
/// TF graphs are NHWC; the ONNX graph keeps the NHWC input, transposes once to NCHW and runs every 4-D
/// tensor channel-first from there (constants are re-laid out to broadcast the same way), so ONNX
/// Runtime's convolution kernels apply. Only the nodes the chosen output needs are converted; an op
/// outside the supported set is refused with its name, never guessed.
/// </summary>
internal static class TfjsGraphConverter
{
    /// <summary>What a conversion gives: the graph, the input side, the embedding size and the TF node it ends at.</summary>
    public sealed record Result(OnnxGraphBuilder Graph, int InputSize, int EmbeddingSize, string OutputNode, string? GeneratedBy);

    /// <summary>True when the file is a TF.js graph model (a JSON object with <c>modelTopology.node</c>).</summary>
    public static bool IsGraphModel(string path)
    {
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return false;
        try
        {
            using var s = File.OpenRead(path);
            Span<byte> head = stackalloc byte[256];
            int n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            var text = Encoding.UTF8.GetString(head[..n]);
            return text.TrimStart().StartsWith('{') && text.Contains("\"format\"",
                StringComparison.Ordinal) | text.Contains("modelTopology", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }

    public static Result Convert(string path, string? outputNode = null)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new WeightsException(path, "not a TF.js graph model (invalid JSON: " + e.Message + ")", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightsException(path,
            e is FileNotFoundException ? "file not found" : e.Message, e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("modelTopology", out var topology)
                || !topology.TryGetProperty("node", out var nodesJson) || nodesJson.ValueKind != JsonValueKind.Array)
                throw new WeightsException(path, "not a TF.js graph model (no modelTopology.node list)");
            if (!root.TryGetProperty("weightsManifest", out var manifest) || manifest.ValueKind != JsonValueKind.Array)
                throw new WeightsException(path, "not a TF.js graph model (no weightsManifest)");
            var weights = TfjsReader.ReadManifest(path, manifest).ToDictionary(t => t.Name, StringComparer.Ordinal);
            var nodes = new Dictionary<string, TfNode>(StringComparer.Ordinal);
            foreach (var n in nodesJson.EnumerateArray())
            {
                var node = TfNode.Parse(n);
                nodes[node.Name] = node;
            }
            string? generatedBy = root.TryGetProperty("generatedBy", out var gb) && gb.ValueKind == JsonValueKind.String ? gb.GetString() : null;
            return new Converter(path, nodes, weights).Run(outputNode, SignatureOutputs(root), generatedBy);
        }
    }

    /// <summary>The outputs the converter declared (<c>signature.outputs</c>, also under <c>userDefinedMetadata</c>); an output may feed other nodes.</summary>
    private static List<string> SignatureOutputs(JsonElement root)
    {
        var result = new List<string>();
        foreach (var holder in new[] { root, root.TryGetProperty("userDefinedMetadata", out var u) ? u : default })
            if (holder.ValueKind == JsonValueKind.Object && holder.TryGetProperty("signature", out var sig) && sig.ValueKind == JsonValueKind.Object
                && sig.TryGetProperty("outputs", out var outs) && outs.ValueKind == JsonValueKind.Object)
                foreach (var o in outs.EnumerateObject())
                {
                    var name = o.Value.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : o.Name;
                    result.Add(name.EndsWith(":0", StringComparison.Ordinal) ? name[..^2] : name);
                }
        return result.Distinct().ToList();
    }

    /// <summary>One TF node: op, inputs (control inputs dropped, <c>:0</c> stripped) and its attributes as JSON.</summary>
    private sealed record TfNode(string Name, string Op, string[] Inputs, Dictionary<string, JsonElement> Attr)
    {
        public static TfNode Parse(JsonElement n)
        {
            var name = n.GetProperty("name").GetString() ?? throw new FormatException("a node without a name");
            var op = n.GetProperty("op").GetString() ?? "";
            var inputs = n.TryGetProperty("input", out var i)
                ? i.EnumerateArray().Select(x => x.GetString()
                    ?? "").Where(x => !x.StartsWith('^')).Select(x => x.EndsWith(":0", StringComparison.Ordinal) ? x[..^2] : x).ToArray()
                : [];
            var attr = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            if (n.TryGetProperty("attr", out var a))
                foreach (var p in a.EnumerateObject()) attr[p.Name] = p.Value.Clone();
            return new TfNode(name, op, inputs, attr);
        }

        public long[] Ints(string key) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("list", out var l) && l.TryGetProperty("i", out var items)
            ? items.EnumerateArray().Select(x => long.Parse(x.ValueKind == JsonValueKind.String ? x.GetString()! : x.GetRawText(),
                CultureInfo.InvariantCulture)).ToArray()
            : [];

        public long Int(string key, long fallback) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("i", out var x)
            ? long.Parse(x.ValueKind == JsonValueKind.String ? x.GetString()! : x.GetRawText(), CultureInfo.InvariantCulture) : fallback;

        public float Float(string key, float fallback) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("f", out var x)
            ? (x.ValueKind == JsonValueKind.String ? float.Parse(x.GetString()!, CultureInfo.InvariantCulture) : x.GetSingle()) : fallback;

        public bool Bool(string key) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("b", out var x) && x.ValueKind == JsonValueKind.True;

        /// <summary>A string attribute (base64 in the JSON).</summary>
        public string? String(string key) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("s", out var x) ? Decode(x.GetString()) : null;

        public string[] Strings(string key) => Attr.TryGetValue(key, out var v) && v.TryGetProperty("list", out var l) && l.TryGetProperty("s", out var items)
            ? items.EnumerateArray().Select(x => Decode(x.GetString())).ToArray()
            : [];

        private static string Decode(string? b64) => b64 is null ? "" : Encoding.UTF8.GetString(System.Convert.FromBase64String(b64));
    }

    /// <summary>
    /// A value of the converted graph. <see cref="Shape"/> is always the TF (NHWC) shape, −1 where unknown;
    /// a 4-D tensor computed by the graph is stored NCHW in ONNX (<see cref="Nchw"/>). Constants stay
    /// C# arrays until an op needs them, so each is laid out for its use.
    /// </summary>
    private sealed class Value
    {
        public string? Onnx;
        public long[] Shape = [];
        public bool Nchw;
        public float[]? Const;
        public bool IsConst => Const is not null;
        public int Rank => Shape.Length;
    }

    private sealed class Converter(string file, Dictionary<string, TfNode> nodes, Dictionary<string, NamedTensor> weights)
    {
        private readonly OnnxGraphBuilder _g = new("tfjs_graph");
        private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        private readonly HashSet<string> _visiting = new(StringComparer.Ordinal);
        private readonly SortedSet<string> _unsupported = new(StringComparer.Ordinal);
        private int _inputSize;

        public Result Run(string? outputNode, List<string> declared, string? generatedBy)
        {
            var consumed = new HashSet<string>(nodes.Values.SelectMany(n => n.Inputs).Select(BaseName), StringComparer.Ordinal);
            var candidates = declared.Where(nodes.ContainsKey).ToList();
            if (candidates.Count == 0)
                candidates = nodes.Values.Where(n => n.Op is not ("Const" or "Placeholder" or "NoOp")
                    && !consumed.Contains(n.Name)).Select(n => n.Name).ToList();
            if (nodes.Values.Count(n => n.Op == "Placeholder") != 1)
                throw new WeightsException(file, $"a face model takes one image input; this graph has {nodes.Values.Count(n => n.Op == "Placeholder")} placeholders");
            if (outputNode is not null && !nodes.ContainsKey(outputNode))
                throw new WeightsException(file, $"no node '{outputNode}' in the graph (outputs: {string.Join(", ", candidates)})");
            // Unsupported ops anywhere the outputs need are listed together, before anything is built.
            foreach (var c in outputNode is null ? candidates : [outputNode]) CollectUnsupported(c, new HashSet<string>(StringComparer.Ordinal));
            if (_unsupported.Count > 0)
                throw new WeightsException(file, $"the graph uses TF ops this importer does not convert: {string.Join(", ", _unsupported)}");
            string chosen = outputNode ?? ChooseEmbedding(candidates);
            var v = Get(chosen);
            if (v.IsConst) throw new WeightsException(file, $"output '{chosen}' is a constant");
            string y = v.Onnx!;
            long dim = v.Shape.Length > 0 ? v.Shape[^1] : -1;
            if (v.Rank == 4)
            {
                if (v.Shape[1] != 1 || v.Shape[2] != 1) throw new WeightsException(file,
                    $"output '{chosen}' is a feature map [{string.Join(",", v.Shape)}], not one vector per face");
                y = _g.Flatten(y, 1, "flatten_output");
            }
            else if (v.Rank != 2) throw new WeightsException(file, $"output '{chosen}' has rank {v.Rank}; an embedding is [batch, size]");
            if (dim <= 0) throw new WeightsException(file, $"output '{chosen}' has no static size");
            var output = _g.Node("Identity", [y], Models.InceptionResNetV1.OutputName);
            _g.Output(output, -1, dim);
            return new Result(_g, _inputSize, (int)dim, chosen, generatedBy);
        }

        /// <summary>Of several graph outputs (e.g. age, gender and the embedding), the widest vector.</summary>
        private string ChooseEmbedding(List<string> candidates)
        {
            if (candidates.Count == 1) return candidates[0];
            var sized = candidates.Select(c => (Name: c,
                Shape: Get(c).Shape)).Where(c => c.Shape.Length is 2 or 4).OrderByDescending(c => c.Shape[^1]).ToList();
            if (sized.Count == 0) throw new WeightsException(file, $"none of the outputs ({string.Join(", ", candidates)}) is a vector");
            return sized[0].Name;
        }

        private void CollectUnsupported(string name, HashSet<string> seen)
        {
            name = BaseName(name);
            if (!seen.Add(name) || !nodes.TryGetValue(name, out var n)) return;
            if (!Supported.Contains(n.Op)) _unsupported.Add(n.Op);
            foreach (var i in n.Inputs) CollectUnsupported(i, seen);
        }

        private static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
        {
            "Const", "Placeholder", "Identity", "StopGradient", "Snapshot",
            "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "MatMul", "_FusedMatMul",
            "Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Div", "Maximum", "Minimum",
            "Relu", "Relu6", "Elu", "LeakyRelu", "Prelu", "Sigmoid", "Tanh", "Abs", "Neg", "Sqrt", "Rsqrt", "Square", "Exp",
            "Mean", "Sum", "Max", "Min", "Prod", "Squeeze", "Reshape", "Pad", "PadV2", "MirrorPad", "MaxPool", "AvgPool",
            "ConcatV2", "Softmax", "FusedBatchNorm", "FusedBatchNormV3",
        };

        private static string BaseName(string input)
        {
            int colon = input.LastIndexOf(':');
            return colon > 0 && int.TryParse(input.AsSpan(colon + 1), out _) ? input[..colon] : input;
        }

        private Value Get(string input)
        {
            var name = BaseName(input);
            if (_values.TryGetValue(name, out var v)) return v;
            if (!nodes.TryGetValue(name, out var node)) throw new WeightsException(file, $"node input '{input}' names no node of the graph");
            if (!_visiting.Add(name)) throw new WeightsException(file, $"the graph has a cycle through '{name}'");
            try
            {
                v = Convert(node);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IndexOutOfRangeException or KeyNotFoundException)
            {
                throw new WeightsException(file, $"node '{node.Name}' ({node.Op}): {e.Message}", e);
            }
            _visiting.Remove(name);
            _values[name] = v;
            return v;
        }

        private Value Convert(TfNode n)
        {
            switch (n.Op)
            {
                case "Const":
                    if (!weights.TryGetValue(n.Name, out var t)) throw new ArgumentException("constant without a value in the weights manifest");
                    return new Value { Const = t.Data, Shape = t.Shape.Select(d => (long)d).ToArray() };
                case "Placeholder":
                    return Placeholder(n);
                case "Identity" or "StopGradient" or "Snapshot":
                    return Get(n.Inputs[0]);
                case "Conv2D" or "_FusedConv2D":
                    return Conv(n, depthwise: false);
                case "DepthwiseConv2dNative" or "FusedDepthwiseConv2dNative":
                    return Conv(n, depthwise: true);
                case "MatMul" or "_FusedMatMul":
                    return MatMul(n);
                case "Add" or "AddV2" or "BiasAdd":
                    return Binary("Add", n);
                case "Sub":
                    return Binary("Sub", n);
                case "Mul":
                    return Binary("Mul", n);
                case "RealDiv" or "Div":
                    return Binary("Div", n);
                case "Maximum":
                    return Binary("Max", n);
                case "Minimum":
                    return Binary("Min", n);
                case "Prelu":
                    return Binary("PRelu", n);
                case "Relu" or "Sigmoid" or "Tanh" or "Abs" or "Neg" or "Sqrt" or "Exp" or "Elu":
                    return Unary(n.Op, n);
                case "Relu6":
                    return Activation(Get(n.Inputs[0]), "Relu6", n.Name, 0);
                case "LeakyRelu":
                    return Activation(Get(n.Inputs[0]), "LeakyRelu", n.Name, n.Float("alpha", 0.2f));
                case "Rsqrt":
                {
                    var x = Get(n.Inputs[0]);
                    return Like(x, _g.Node("Reciprocal", [_g.Node("Sqrt", [Materialize(x)], n.Name + "/sqrt")], n.Name));
                }
                case "Square":
                {
                    var x = Get(n.Inputs[0]);
                    var m = Materialize(x);
                    return Like(x, _g.Mul(m, m, n.Name));
                }
                case "Mean" or "Sum" or "Max" or "Min" or "Prod":
                    return Reduce(n);
                case "Squeeze":
                    return Squeeze(n);
                case "Reshape":
                    return Reshape(n);
                case "Pad" or "PadV2" or "MirrorPad":
                    return Pad(n);
                case "MaxPool" or "AvgPool":
                    return Pool(n);
                case "ConcatV2":
                    return Concat(n);
                case "Softmax":
                {
                    var x = Get(n.Inputs[0]);
                    return Like(x, _g.Softmax(Materialize(x), x.Nchw ? 1 : -1, n.Name));
                }
                case "FusedBatchNorm" or "FusedBatchNormV3":
                {
                    var x = Get(n.Inputs[0]);
                    var (scale, shift) = FoldBatchNorm(n.Inputs.Skip(1).Take(4).Select(ConstOf).ToArray(), n.Float("epsilon", 1e-3f));
                    var y = _g.Mul(Materialize(x), Broadcast(new Value { Const = scale, Shape = [scale.Length] }, x, n.Name + "/scale"), n.Name + "/mul");
                    return Like(x, _g.Add(y, Broadcast(new Value { Const = shift, Shape = [shift.Length] }, x, n.Name + "/shift"), n.Name));
                }
                default:
                    throw new ArgumentException($"unsupported op {n.Op}");
            }
        }

        private Value Placeholder(TfNode n)
        {
            long[] shape = n.Attr.TryGetValue("shape", out var s) && s.TryGetProperty("shape", out var sh) && sh.TryGetProperty("dim", out var dims)
                ? dims.EnumerateArray().Select(d => d.TryGetProperty("size",
                    out var size) ? long.Parse(size.ValueKind == JsonValueKind.String ? size.GetString()! : size.GetRawText(), CultureInfo.InvariantCulture) : -1).ToArray()
                : [];
            if (shape.Length != 4 || shape[3] != 3 || shape[1] <= 0 || shape[1] != shape[2])
                throw new ArgumentException($"the input must be a square RGB image batch [N,H,W,3]; it is [{string.Join(",", shape)}]");
            _inputSize = (int)shape[1];
            var input = _g.Input(Models.InceptionResNetV1.InputName, -1, shape[1], shape[2], 3);
            var nchw = _g.Transpose(input, [0, 3, 1, 2], "to_nchw");
            return new Value { Onnx = nchw, Shape = [-1, shape[1], shape[2], 3], Nchw = true };
        }

        // ----- convolutions and dense layers -----

        private Value Conv(TfNode n, bool depthwise)
        {
            var x = Get(n.Inputs[0]);
            if (x.Rank != 4 || x.IsConst) throw new ArgumentException("a convolution needs a computed 4-D input");
            var filter = ConstOf(n.Inputs[1]);
            var fs = Shape(n.Inputs[1]);
            if (fs.Length != 4) throw new ArgumentException("the filter must be 4-D");
            int kh = (int)fs[0], kw = (int)fs[1], cin = (int)fs[2], cout = depthwise ? (int)(fs[2] * fs[3]) : (int)fs[3];
            if (n.String("data_format") is { Length: > 0 } fmt && fmt != "NHWC") throw new ArgumentException($"data format {fmt} (only NHWC)");
            var strides = n.Ints("strides");
            var dil = n.Ints("dilations");
            int sh = strides.Length == 4 ? (int)strides[1] : 1, sw = strides.Length == 4 ? (int)strides[2] : 1;
            int dh = dil.Length == 4 ? (int)dil[1] : 1, dw = dil.Length == 4 ? (int)dil[2] : 1;
            var w = new float[cout * (depthwise ? 1 : cin) * kh * kw];
            if (depthwise)
            {
                int mult = (int)fs[3];
                for (int y = 0; y < kh; y++)
                for (int xx = 0; xx < kw; xx++)
                for (int c = 0; c < cin; c++)
                for (int m = 0; m < mult; m++)
                    w[((c * mult + m) * kh + y) * kw + xx] = filter[((y * kw + xx) * cin + c) * mult + m];
            }
            else
            {
                for (int y = 0; y < kh; y++)
                for (int xx = 0; xx < kw; xx++)
                for (int i = 0; i < cin; i++)
                for (int o = 0; o < cout; o++)
                    w[((o * cin + i) * kh + y) * kw + xx] = filter[((y * kw + xx) * cin + i) * cout + o];
            }
            var (bias, activation, alpha) = Fused(n, cout, w, (depthwise ? 1 : cin) * kh * kw);
            var (pads, oh, ow) = Padding(n, x.Shape[1], x.Shape[2], kh, kw, sh, sw, dh, dw);
            var inputs = new List<string> { Materialize(x), _g.Initializer(n.Name + "/W", w, cout, depthwise ? 1 : cin, kh, kw) };
            if (bias is not null) inputs.Add(_g.Initializer(n.Name + "/B", bias, cout));
            var conv = _g.Node("Conv", [.. inputs], activation is null ? n.Name : n.Name + "/conv",
                OnnxGraphBuilder.Ints("kernel_shape", kh, kw), OnnxGraphBuilder.Ints("strides", sh, sw), OnnxGraphBuilder.Ints("pads", pads),
                OnnxGraphBuilder.Ints("dilations", dh, dw), OnnxGraphBuilder.Int("group", depthwise ? cin : 1));
            var result = new Value { Onnx = conv, Shape = [x.Shape[0], oh, ow, cout], Nchw = true };
            return activation is null ? result : Activation(result, activation, n.Name, alpha);
        }

        /// <summary>
        /// The fused ops of <c>_FusedConv2D</c>/<c>_FusedMatMul</c>: BiasAdd or FusedBatchNorm (folded into
        /// <paramref name="w"/>, whose rows are the outputs) and an optional activation.
        /// </summary>
        private (float[]? Bias, string? Activation, float Alpha) Fused(TfNode n, int cout, float[] w, int perOutput)
        {
            var ops = n.Strings("fused_ops");
            if (ops.Length == 0) return (null, null, 0);
            var args = n.Inputs.Skip(2).ToArray();
            float[]? bias = null;
            int used = 0;
            switch (ops[0])
            {
                case "BiasAdd":
                    bias = ConstOf(args[0]);
                    used = 1;
                    break;
                case "FusedBatchNorm":
                {
                    var (scale, shift) = FoldBatchNorm(args.Take(4).Select(ConstOf).ToArray(), n.Float("epsilon", 1e-3f));
                    for (int o = 0; o < cout; o++)
                    for (int k = 0; k < perOutput; k++)
                        w[o * perOutput + k] *= scale[o];
                    bias = shift;
                    used = 4;
                    break;
                }
                default:
                    throw new ArgumentException($"fused op {ops[0]}");
            }
            if (bias.Length != cout) throw new ArgumentException($"bias of {bias.Length} values for {cout} outputs");
            if (ops.Length == 1) return (bias, null, 0);
            if (ops.Length > 2) throw new ArgumentException($"fused ops {string.Join("+", ops)}");
            return ops[1] switch
            {
                "Relu" or "Relu6" or "Elu" or "Sigmoid" or "Tanh" => (bias, ops[1], 0),
                "LeakyRelu" => (bias, "LeakyRelu", n.Float("leakyrelu_alpha", 0.2f)),
                "Prelu" => (bias, "Prelu:" + args[used], 0),
                var other => throw new ArgumentException($"fused activation {other}"),
            };
        }

        private static (float[] Scale, float[] Shift) FoldBatchNorm(float[][] p, float epsilon)
        {
            var (scale, offset, mean, variance) = (p[0], p[1], p[2], p[3]);
            var s = new float[scale.Length];
            var b = new float[scale.Length];
            for (int c = 0; c < s.Length; c++)
            {
                s[c] = scale[c] / MathF.Sqrt(variance[c] + epsilon);
                b[c] = offset[c] - mean[c] * s[c];
            }
            return (s, b);
        }

        /// <summary>TF's SAME/VALID/EXPLICIT padding as ONNX pads, with the output size.</summary>
        private static (int[] Pads, long OutH, long OutW) Padding(TfNode n, long h, long w, int kh, int kw, int sh, int sw, int dh = 1, int dw = 1)
        {
            var mode = n.String("padding") ?? "VALID";
            if (h <= 0 || w <= 0) throw new ArgumentException("spatial size unknown (the input must have a fixed size)");
            long ekh = (kh - 1) * dh + 1, ekw = (kw - 1) * dw + 1;
            switch (mode)
            {
                case "VALID":
                    return ([0, 0, 0, 0], (h - ekh) / sh + 1, (w - ekw) / sw + 1);
                case "SAME":
                {
                    long oh = (h + sh - 1) / sh, ow = (w + sw - 1) / sw;
                    long ph = Math.Max((oh - 1) * sh + ekh - h, 0), pw = Math.Max((ow - 1) * sw + ekw - w, 0);
                    return ([(int)(ph / 2), (int)(pw / 2), (int)(ph - ph / 2), (int)(pw - pw / 2)], oh, ow); // TF puts the odd pixel after
                }
                case "EXPLICIT":
                {
                    var e = n.Ints("explicit_paddings");
                    if (e.Length != 8) throw new ArgumentException("explicit padding needs 8 values");
                    return ([(int)e[2], (int)e[4], (int)e[3], (int)e[5]], (h + e[2] + e[3] - ekh) / sh + 1, (w + e[4] + e[5] - ekw) / sw + 1);
                }
                default:
                    throw new ArgumentException($"padding {mode}");
            }
        }

        private Value MatMul(TfNode n)
        {
            var a = Get(n.Inputs[0]);
            if (a.Rank != 2 || a.IsConst) throw new ArgumentException("MatMul needs a computed 2-D first operand");
            var bShape = Shape(n.Inputs[1]);
            var b = ConstOf(n.Inputs[1]);
            if (n.Bool("transpose_a")) throw new ArgumentException("transpose_a");
            bool tb = n.Bool("transpose_b");
            int rows = (int)bShape[0], cols = (int)bShape[1];
            int inDim = tb ? cols : rows, outDim = tb ? rows : cols;
            // stored [out, in] so the fused batch norm scales rows; Gemm then uses transB.
            var w = new float[outDim * inDim];
            for (int i = 0; i < inDim; i++)
            for (int o = 0; o < outDim; o++)
                w[o * inDim + i] = tb ? b[o * inDim + i] : b[i * outDim + o];
            var (bias, activation, alpha) = Fused(n, outDim, w, inDim);
            var gemm = _g.Gemm(Materialize(a), _g.Initializer(n.Name + "/W", w, outDim, inDim),
                bias is null ? null : _g.Initializer(n.Name + "/B", bias, outDim), transB: true,
                activation is null ? n.Name : n.Name + "/gemm");
            var result = new Value { Onnx = gemm, Shape = [a.Shape[0], outDim] };
            return activation is null ? result : Activation(result, activation, n.Name, alpha);
        }

        private Value Activation(Value x, string activation, string name, float alpha)
        {
            var input = Materialize(x);
            string y = activation switch
            {
                "Relu" => _g.Relu(input, name),
                "Relu6" => _g.Node("Clip", [input, Scalar(name + "/min", 0), Scalar(name + "/max", 6)], name),
                "Elu" => _g.Node("Elu", [input], name),
                "Sigmoid" => _g.Node("Sigmoid", [input], name),
                "Tanh" => _g.Node("Tanh", [input], name),
                "LeakyRelu" => _g.Node("LeakyRelu", [input], name, OnnxGraphBuilder.Float("alpha", alpha)),
                _ when activation.StartsWith("Prelu:", StringComparison.Ordinal) => _g.PRelu(input, Broadcast(Get(activation[6..]), x, name + "/alpha"), name),
                _ => throw new ArgumentException($"activation {activation}"),
            };
            return Like(x, y);
        }

        // ----- element-wise -----

        private Value Unary(string op, TfNode n)
        {
            var x = Get(n.Inputs[0]);
            if (x.IsConst) // folded here: converters leave some arithmetic on constants in the graph
            {
                Func<float, float> f = op switch
                {
                    "Relu" => v => MathF.Max(v, 0), "Sigmoid" => v => 1 / (1 + MathF.Exp(-v)), "Tanh" => MathF.Tanh, "Abs" => MathF.Abs,
                    "Neg" => v => -v, "Sqrt" => MathF.Sqrt, "Exp" => MathF.Exp, "Elu" => v => v >= 0 ? v : MathF.Exp(v) - 1,
                    _ => throw new ArgumentException($"{op} of a constant"),
                };
                return new Value { Const = x.Const!.Select(f).ToArray(), Shape = x.Shape };
            }
            return Like(x, _g.Node(op, [Materialize(x)], n.Name));
        }

        private Value Binary(string op, TfNode n)
        {
            var a = Get(n.Inputs[0]);
            var b = Get(n.Inputs[1]);
            if (a.IsConst && b.IsConst) return Fold(op, a, b);
            var shape = BroadcastShape(a.Shape, b.Shape);
            bool nchw = shape.Length == 4 && (a.Nchw || b.Nchw);
            if (nchw)
                foreach (var v in new[] { a, b })
                    if (!v.IsConst && !v.Nchw && v.Shape.Any(d => d != 1))
                        throw new ArgumentException($"broadcasting a computed [{string.Join(",", v.Shape)}] tensor against a feature map");
            string left = a.IsConst ? ConstFor(a, shape.Length, nchw, n.Name + "/a") : Materialize(a);
            string right = b.IsConst ? ConstFor(b, shape.Length, nchw, n.Name + "/b") : Materialize(b);
            return new Value { Onnx = _g.Node(op, [left, right], n.Name), Shape = shape, Nchw = nchw };
        }

        /// <summary>An element-wise op on two constants (same shape, or one a single value), computed here.</summary>
        private static Value Fold(string op, Value a, Value b)
        {
            Func<float, float, float> f = op switch
            {
                "Add" => (x, y) => x + y, "Sub" => (x, y) => x - y, "Mul" => (x, y) => x * y, "Div" => (x, y) => x / y,
                "Max" => MathF.Max, "Min" => MathF.Min, _ => throw new ArgumentException($"{op} of constants"),
            };
            float[] ca = a.Const!, cb = b.Const!;
            if (ca.Length == cb.Length && a.Shape.SequenceEqual(b.Shape)) return new Value { Const = ca.Select((v, i) => f(v,
                cb[i])).ToArray(), Shape = a.Shape };
            if (cb.Length == 1) return new Value { Const = ca.Select(v => f(v, cb[0])).ToArray(), Shape = a.Shape };
            if (ca.Length == 1) return new Value { Const = cb.Select(v => f(ca[0], v)).ToArray(), Shape = b.Shape };
            throw new ArgumentException($"{op} of constants shaped [{string.Join(",", a.Shape)}] and [{string.Join(",", b.Shape)}]");
        }

        /// <summary>A constant operand for an element-wise op of the given rank: channel-first when the result is a feature map.</summary>
        private string ConstFor(Value c, int rank, bool nchw, string name) => nchw ? Broadcast(c,
            new Value { Shape = new long[4], Nchw = true }, name) : _g.Initializer(name, c.Const!, c.Shape.Length == 0 ? [] : c.Shape);

        /// <summary>A constant laid out to broadcast against <paramref name="like"/> (NCHW when it is a feature map).</summary>
        private string Broadcast(Value c, Value like, string name)
        {
            if (!c.IsConst) return Materialize(c);
            if (!like.Nchw) return _g.Initializer(name, c.Const!, c.Shape.Length == 0 ? [] : c.Shape);
            if (c.Rank > 4) throw new ArgumentException("a constant of rank > 4");
            var s = Enumerable.Repeat(1L, 4 - c.Rank).Concat(c.Shape).ToArray(); // N H W C
            var data = new float[c.Const!.Length];
            long sn = s[0], sh = s[1], sw = s[2], sc = s[3];
            for (long i = 0; i < sn; i++)
            for (long y = 0; y < sh; y++)
            for (long x = 0; x < sw; x++)
            for (long ch = 0; ch < sc; ch++)
                data[((i * sc + ch) * sh + y) * sw + x] = c.Const[((i * sh + y) * sw + x) * sc + ch];
            return _g.Initializer(name, data, sn, sc, sh, sw);
        }

        private static long[] BroadcastShape(long[] a, long[] b)
        {
            int r = Math.Max(a.Length, b.Length);
            var s = new long[r];
            for (int i = 0; i < r; i++)
            {
                long da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1, db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
                s[i] = da == 1 ? db : db == 1 ? da : da == db ? da : da < 0 || db < 0 ? Math.Max(da, db)
                    : throw new ArgumentException($"shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast");
            }
            return s;
        }

        // ----- shapes -----

        private static readonly int[] ToNchwAxis = [0, 2, 3, 1];

        private Value Reduce(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var axes = ConstOf(n.Inputs[1]).Select(a => (int)a).Select(a => a < 0 ? a + x.Rank : a).Distinct().OrderBy(a => a).ToArray();
            bool keep = n.Bool("keep_dims") || n.Bool("keepdims");
            string op = n.Op switch { "Mean" => "ReduceMean", "Sum" => "ReduceSum", "Max" => "ReduceMax", "Min" => "ReduceMin", _ => "ReduceProd" };
            var input = x;
            // Reducing H and W of a feature map leaves [N, C] in either layout; any other reduction works on NHWC.
            bool spatial = x.Nchw && axes.Contains(1) && axes.Contains(2) && !axes.Contains(3);
            if (x.Nchw && !keep && !spatial) input = ToNhwc(x, n.Name);
            var onnxAxes = input.Nchw ? axes.Select(a => (long)ToNchwAxis[a]).ToArray() : axes.Select(a => (long)a).ToArray();
            string y = op == "ReduceSum"
                ? _g.Node(op, [Materialize(input), _g.InitializerInt64(n.Name + "/axes", onnxAxes, onnxAxes.Length)], n.Name,
                    OnnxGraphBuilder.Int("keepdims", keep ? 1 : 0))
                : _g.Node(op, [Materialize(input)], n.Name, OnnxGraphBuilder.Ints("axes", onnxAxes), OnnxGraphBuilder.Int("keepdims", keep ? 1 : 0));
            var shape = keep ? x.Shape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray() : x.Shape.Where((_, i) => !axes.Contains(i)).ToArray();
            return new Value { Onnx = y, Shape = shape, Nchw = keep && input.Nchw };
        }

        private Value Squeeze(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var dims = n.Ints("squeeze_dims");
            if (dims.Length == 0) dims = n.Ints("axis");
            var axes = dims.Length > 0 ? dims.Select(a => a < 0 ? a
                + x.Rank : a).ToArray() : x.Shape.Select((d, i) => (d, i)).Where(p => p.d == 1).Select(p => (long)p.i).ToArray();
            var input = x;
            bool spatial = x.Nchw && axes.Order().SequenceEqual([1L, 2L]);
            if (x.Nchw && !spatial) input = ToNhwc(x, n.Name);
            var onnxAxes = input.Nchw ? axes.Select(a => (long)ToNchwAxis[a]).ToArray() : axes;
            var y = _g.Node("Squeeze", [Materialize(input), _g.InitializerInt64(n.Name + "/axes", onnxAxes, onnxAxes.Length)], n.Name);
            return new Value { Onnx = y, Shape = x.Shape.Where((_, i) => !axes.Contains(i)).ToArray() };
        }

        private Value Reshape(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var target = ConstOf(n.Inputs[1]).Select(v => (long)v).ToArray();
            var input = x.Nchw ? ToNhwc(x, n.Name) : x;
            long known = x.Shape.Skip(1).Aggregate(1L, (a, d) => d > 0 && a > 0 ? a * d : -1);
            // The batch stays free: a converter that baked batch 1 into the target gets it back.
            if (target.Length >= 1 && known > 0 && target.Skip(1).All(d => d > 0) && target.Skip(1).Aggregate(1L, (a, d) => a * d) == known) target[0] = -1;
            var shape = target.ToArray();
            if (shape.Count(d => d == -1) == 1 && known > 0 && shape[0] != -1)
            {
                long rest = shape.Where(d => d != -1).Aggregate(1L, (a, d) => a * d);
                shape[Array.IndexOf(shape, -1L)] = known / rest;
            }
            var y = _g.Node("Reshape", [Materialize(input), _g.InitializerInt64(n.Name + "/shape", target, target.Length)], n.Name);
            var result = new Value { Onnx = y, Shape = shape };
            return shape.Length == 4 ? ToNchw(result, n.Name) : result;
        }

        private Value Pad(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var p = ConstOf(n.Inputs[1]).Select(v => (long)v).ToArray();
            if (p.Length != 2 * x.Rank) throw new ArgumentException("paddings do not match the input's rank");
            var order = x.Nchw ? new[] { 0, 3, 1, 2 } : Enumerable.Range(0, x.Rank).ToArray();
            var pads = order.Select(a => p[2 * a]).Concat(order.Select(a => p[2 * a + 1])).ToArray();
            var inputs = new List<string> { Materialize(x), _g.InitializerInt64(n.Name + "/pads", pads, pads.Length) };
            string mode = "constant";
            if (n.Op == "PadV2") inputs.Add(_g.Initializer(n.Name + "/value", [ConstOf(n.Inputs[2])[0]]));
            if (n.Op == "MirrorPad")
                mode = n.String("mode") == "REFLECT" ? "reflect" : throw new ArgumentException($"mirror padding {n.String("mode")} (only REFLECT)");
            var y = _g.Node("Pad", [.. inputs], n.Name,
                new Onnx.Proto.AttributeProto { Name = "mode", Type = Onnx.Proto.AttributeProto.Types.AttributeType.String,
                S = Google.Protobuf.ByteString.CopyFromUtf8(mode) });
            return new Value { Onnx = y, Shape = x.Shape.Select((d, i) => d < 0 ? d : d + p[2 * i] + p[2 * i + 1]).ToArray(), Nchw = x.Nchw };
        }

        private Value Pool(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            if (!x.Nchw) throw new ArgumentException("pooling needs a feature map");
            var k = n.Ints("ksize");
            var s = n.Ints("strides");
            if (k.Length != 4 || s.Length != 4 || k[0] != 1 || k[3] != 1) throw new ArgumentException("pooling over batch or channels");
            var (pads, oh, ow) = Padding(n, x.Shape[1], x.Shape[2], (int)k[1], (int)k[2], (int)s[1], (int)s[2]);
            var y = _g.Node(n.Op == "MaxPool" ? "MaxPool" : "AveragePool", [Materialize(x)], n.Name,
                OnnxGraphBuilder.Ints("kernel_shape", (int)k[1], (int)k[2]), OnnxGraphBuilder.Ints("strides", (int)s[1],
                    (int)s[2]), OnnxGraphBuilder.Ints("pads", pads));
            return new Value { Onnx = y, Shape = [x.Shape[0], oh, ow, x.Shape[3]], Nchw = true };
        }

        private Value Concat(TfNode n)
        {
            var parts = n.Inputs[..^1].Select(Get).ToArray();
            int axis = (int)ConstOf(n.Inputs[^1])[0];
            int rank = parts[0].Rank;
            if (axis < 0) axis += rank;
            bool nchw = parts.All(p => p.Nchw || p.IsConst) && parts.Any(p => p.Nchw);
            var names = parts.Select((p, i) => p.IsConst ? (nchw ? Broadcast(p, new Value { Shape = new long[4], Nchw = true },
                $"{n.Name}/c{i}") : _g.Initializer($"{n.Name}/c{i}", p.Const!, p.Shape)) : Materialize(p)).ToArray();
            var y = _g.Concat(nchw ? ToNchwAxis[axis] : axis, names, n.Name);
            var shape = parts[0].Shape.ToArray();
            shape[axis] = parts.Any(p => p.Shape[axis] < 0) ? -1 : parts.Sum(p => p.Shape[axis]);
            return new Value { Onnx = y, Shape = shape, Nchw = nchw };
        }

        // ----- helpers -----

        private Value ToNhwc(Value x, string name) => new() { Onnx = _g.Transpose(Materialize(x), [0, 2, 3, 1], name + "/to_nhwc"), Shape = x.Shape };

        private Value ToNchw(Value x, string name) => new() { Onnx = _g.Transpose(Materialize(x), [0, 3, 1, 2], name + "/to_nchw"),
            Shape = x.Shape, Nchw = true };

        private static Value Like(Value x, string onnx) => new() { Onnx = onnx, Shape = x.Shape, Nchw = x.Nchw };

        private static string Materialize(Value v) => v.Onnx ?? throw new ArgumentException("a constant where a computed tensor is needed");

        private string Scalar(string name, float value) => _g.Initializer(name, [value]);

        private float[] ConstOf(string input)
        {
            var v = Get(input);
            return v.Const ?? throw new ArgumentException($"input '{input}' must be a constant");
        }

        private long[] Shape(string input) => Get(input).Shape;
    }
}
