using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;

namespace FaceNet.Import.Weights;

/// <summary>
/// Converts a TensorFlow.js <em>graph model</em> (<c>model.json</c> with <c>modelTopology.node[]</c> and a
/// <c>weightsManifest</c>, as <c>tensorflowjs_converter</c> writes it) into an ONNX graph with our builder.
/// TF graphs are NHWC; the ONNX graph keeps the NHWC input, transposes once to NCHW and runs every 4-D
/// tensor channel-first from there (constants are re-laid out to broadcast the same way), so ONNX
/// Runtime's convolution kernels apply. Only the nodes the chosen output needs are converted; an op
/// outside the supported set is refused with its name, never guessed.
/// </summary>
internal static partial class TfjsGraphConverter
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

    private sealed partial class Converter(string file, Dictionary<string, TfNode> nodes, Dictionary<string, NamedTensor> weights)
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
            var output = _g.Node("Identity", [y], Networks.InceptionResNetV1.OutputName);
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
            var input = _g.Input(Networks.InceptionResNetV1.InputName, -1, shape[1], shape[2], 3);
            var nchw = _g.Transpose(input, [0, 3, 1, 2], "to_nchw");
            return new Value { Onnx = nchw, Shape = [-1, shape[1], shape[2], 3], Nchw = true };
        }
    }
}
