using FaceNet.Models;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>
/// Minivision's MiniFASNet (Silent-Face-Anti-Spoofing), the passive liveness networks, as ONNX graphs from
/// their PyTorch state dicts: MiniFASNetV1/V2 and the squeeze-and-excitation variants V1SE/V2SE. The
/// networks are pruned, so the channel widths differ per file; they are read from the tensors' shapes,
/// and the layers' order, strides and paddings are the architecture's:
/// <list type="bullet">
/// <item><c>conv1</c> 3×3 stride 2, <c>conv2_dw</c> 3×3 depthwise; each conv block is convolution → BatchNorm → PReLU.</item>
/// <item><c>conv_23</c>, <c>conv_34</c>, <c>conv_45</c>: a bottleneck that halves the map (1×1 expand, 3×3 depthwise stride 2, 1×1 project without activation).</item>
/// <item><c>conv_3</c>, <c>conv_4</c>, <c>conv_5</c>: residual bottlenecks (stride 1); in the SE variants the last block of each
/// stage scales its output per channel by a squeeze-and-excitation gate (global mean → 1×1 → BN → ReLU → 1×1 → BN → sigmoid) before the sum.</item>
/// <item><c>conv_6_sep</c> 1×1 to 512, <c>conv_6_dw</c> a depthwise convolution as large as the map (5×5 at 80×80) with BatchNorm only,
/// flattened; <c>linear</c> 512 → 128 (no bias), <c>bn</c> BatchNorm1d, <c>prob</c> 128 → classes (no bias); softmax.</item>
/// </list>
/// Every BatchNorm (epsilon 1e-5, PyTorch's) is folded into the layer before it. Input <c>input</c> [N,3,S,S]
/// (BGR, 0–255 for Minivision's weights), output <c>prob</c> [N,classes].
/// </summary>
public static class MiniFasNet
{
    public const string InputName = "input";
    public const string OutputName = "prob";
    public const float BatchNormEpsilon = 1e-5f;

    /// <summary>The variants, by the names Minivision's files carry (<c>…_MiniFASNetV2.pth</c>).</summary>
    public static IReadOnlyList<string> Variants { get; } = ["MiniFASNetV1", "MiniFASNetV2", "MiniFASNetV1SE", "MiniFASNetV2SE"];

    /// <summary>Whether a state dict holds a MiniFASNet (its distinctive layers), whatever its file is called.</summary>
    public static bool Holds(WeightSet weights)
    {
        var prefix = Prefix(weights);
        return weights.TryGet(prefix + "conv_6_dw.conv.weight", out _) && weights.TryGet(prefix + "prob.weight", out _)
            && weights.TryGet(prefix + "conv_23.conv_dw.conv.weight", out _);
    }

    /// <summary>
    /// The variant: the file name's when it names one (<c>…_MiniFASNetV2.pth</c>), else what the tensors show — SE when
    /// squeeze-and-excitation gates are present, V1 or V2 by the widths Minivision pruned the first residual stage to
    /// (its second block expands 64 → 26 in V1, 64 → 13 in V2), plain <c>MiniFASNet</c> for other widths.
    /// </summary>
    public static string Variant(WeightSet weights)
    {
        var named = Path.GetFileNameWithoutExtension(weights.Source).Split('_')[^1];
        if (Variants.Contains(named, StringComparer.OrdinalIgnoreCase)) return Variants.First(v => v.Equals(named, StringComparison.OrdinalIgnoreCase));
        var prefix = Prefix(weights);
        bool se = weights.Names.Any(n => n.Contains(".se_module.", StringComparison.Ordinal));
        int width = weights.TryGet(prefix + "conv_3.model.1.conv.conv.weight", out var t) ? t.Shape[0] : 0;
        var version = width switch { 26 => "V1", 13 => "V2", _ => "" };
        return "MiniFASNet" + version + (se ? "SE" : "");
    }

    /// <summary>The network as an ONNX graph for square inputs of <paramref name="inputSize"/> pixels (the size the weights were trained at).</summary>
    internal static OnnxGraphBuilder Build(WeightSet weights, int inputSize)
    {
        var net = new Builder(weights, Prefix(weights), inputSize);
        return net.Build();
    }

    /// <summary>DataParallel saves every name under <c>module.</c>.</summary>
    private static string Prefix(WeightSet weights) => weights.Names.Any(n => n.StartsWith("module.", StringComparison.Ordinal)) ? "module." : "";

    private sealed class Builder(WeightSet w, string prefix, int inputSize)
    {
        private readonly OnnxGraphBuilder _g = new("minifasnet");
        private readonly List<string> _problems = [];

        public OnnxGraphBuilder Build()
        {
            if (inputSize % 16 != 0 || inputSize < 16)
                throw new WeightsException(w.Source, $"input size {inputSize}: MiniFASNet halves its map four times, so the size must be a multiple of 16");
            var x = _g.Input(InputName, -1, 3, inputSize, inputSize);
            int c = 3, side = inputSize;
            (x, c) = ConvBlock(x, "conv1", c, stride: 2, prelu: true);
            side /= 2;
            (x, c) = ConvBlock(x, "conv2_dw", c, stride: 1, prelu: true);
            foreach (var (down, stage) in new[] { ("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5") })
            {
                (x, c) = Bottleneck(x, down, c, stride: 2, residual: false);
                side /= 2;
                for (int i = 0; Has($"{stage}.model.{i}.conv.conv.weight"); i++)
                    (x, c) = Bottleneck(x, $"{stage}.model.{i}", c, stride: 1, residual: true);
            }
            (x, c) = ConvBlock(x, "conv_6_sep", c, stride: 1, prelu: true);
            (x, c) = ConvBlock(x, "conv_6_dw", c, stride: 1, prelu: false, pad: 0);
            if (Shape("conv_6_dw.conv.weight") is { Length: 4 } k && k[2] != side)
                _problems.Add($"conv_6_dw has a {k[2]}×{k[3]} kernel but the map is {side}×{side} at input {inputSize}: the weights were trained at another size");
            x = _g.Flatten(x, 1, "flatten");
            x = Head(x, c);
            var prob = _g.Softmax(x, 1, OutputName);
            _g.Output(prob, -1, Shape("prob.weight")?[0] ?? 3);
            if (_problems.Count > 0) throw TensorLookup.Mismatch(w, "MiniFASNet", _problems);
            return _g;
        }

        private bool Has(string name) => w.TryGet(prefix + name, out _);

        private int[]? Shape(string name) => w.TryGet(prefix + name, out var t) ? t.Shape : null;

        private float[]? Tensor(string name, int[] shape) => TensorLookup.Get(w, prefix + name, shape, _problems);

        /// <summary>Convolution (no bias) → BatchNorm (folded) → PReLU when asked; depthwise when the weights have one input channel per group.</summary>
        private (string X, int Channels) ConvBlock(string x, string name, int cin, int stride, bool prelu, int? pad = null)
        {
            if (Shape(name + ".conv.weight") is not { Length: 4 } s)
            {
                _problems.Add($"missing tensor '{prefix}{name}.conv.weight' (a 4-d convolution)");
                return (x, cin);
            }
            int cout = s[0], perGroup = s[1], kh = s[2], kw = s[3];
            if (perGroup == 0 || cin % perGroup != 0)
            {
                _problems.Add($"tensor '{prefix}{name}.conv.weight' has shape [{string.Join(",", s)}]: {perGroup} input channels per group do not divide the {cin} channels it receives");
                return (x, cout);
            }
            int groups = cin / perGroup;
            var weight = Tensor(name + ".conv.weight", s) ?? new float[cout * perGroup * kh * kw];
            var (scale, shift) = BatchNorm(name + ".bn", cout);
            var folded = new float[weight.Length];
            int per = perGroup * kh * kw;
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < per; i++) folded[o * per + i] = weight[o * per + i] * scale[o];
            var y = _g.Conv(x, _g.Initializer(name + "_W", folded, cout, perGroup, kh, kw), _g.Initializer(name + "_B", shift, cout),
                kh, kw, stride, pad ?? kh / 2, pad ?? kw / 2, groups, name);
            if (!prelu) return (y, cout);
            var slope = Tensor(name + ".prelu.weight", [cout]) ?? new float[cout];
            return (_g.PRelu(y, _g.Initializer(name + "_slope", slope, cout, 1, 1), name + "_prelu"), cout);
        }

        /// <summary>1×1 expand → 3×3 depthwise (stride) → 1×1 project; with the input added back (after the SE gate, where there is one) when residual.</summary>
        private (string X, int Channels) Bottleneck(string x, string name, int cin, int stride, bool residual)
        {
            var (y, c) = ConvBlock(x, name + ".conv", cin, 1, prelu: true);
            (y, c) = ConvBlock(y, name + ".conv_dw", c, stride, prelu: true);
            (y, c) = ConvBlock(y, name + ".project", c, 1, prelu: false);
            if (!residual) return (y, c);
            if (c != cin) _problems.Add($"block {prefix}{name} gives {c} channels but its shortcut has {cin}");
            if (Has(name + ".se_module.fc1.weight")) y = Gate(y, name + ".se_module", c);
            return (_g.Add(x, y, name + "_sum"), c);
        }

        /// <summary>Squeeze-and-excitation: x · sigmoid(BN(W2 · ReLU(BN(W1 · mean(x))))).</summary>
        private string Gate(string x, string name, int c)
        {
            var squeezed = _g.GlobalAveragePool(x, name + "_pool");
            var h = Pointwise(squeezed, name + ".fc1", name + ".bn1", c);
            h = _g.Relu(h, name + "_relu");
            var gate = _g.Sigmoid(Pointwise(h, name + ".fc2", name + ".bn2", Shape(name + ".fc1.weight")?[0] ?? 1), name + "_sigmoid");
            return _g.Mul(x, gate, name + "_scaled");
        }

        /// <summary>A 1×1 convolution without bias followed by BatchNorm, folded.</summary>
        private string Pointwise(string x, string conv, string bn, int cin)
        {
            int cout = Shape(conv + ".weight")?[0] ?? 1;
            var weight = Tensor(conv + ".weight", [cout, cin, 1, 1]) ?? new float[cout * cin];
            var (scale, shift) = BatchNorm(bn, cout);
            var folded = new float[weight.Length];
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < cin; i++) folded[o * cin + i] = weight[o * cin + i] * scale[o];
            return _g.Conv(x, _g.Initializer(conv + "_W", folded, cout, cin, 1, 1), _g.Initializer(conv + "_B", shift, cout), 1, 1, 1, 0, 0, conv);
        }

        /// <summary>linear (when present: an embedding narrower than the features) → BatchNorm1d → prob, folded into two Gemms.</summary>
        private string Head(string x, int features)
        {
            int width = features;
            if (Shape("linear.weight") is [var emb, _])
            {
                var lin = Tensor("linear.weight", [emb, features]) ?? new float[emb * features];
                var (scale, shift) = BatchNorm("bn", emb);
                var folded = new float[lin.Length];
                for (int o = 0; o < emb; o++)
                    for (int i = 0; i < features; i++) folded[o * features + i] = lin[o * features + i] * scale[o];
                x = _g.Gemm(x, _g.Initializer("linear_W", folded, emb, features), _g.Initializer("linear_B", shift, emb), transB: true, "linear");
                width = emb;
            }
            else
            {
                var (scale, shift) = BatchNorm("bn", width);
                x = _g.Add(_g.Mul(x, _g.Initializer("bn_scale", scale, width), "bn_scaled"), _g.Initializer("bn_shift", shift, width), "bn");
            }
            int classes = Shape("prob.weight")?[0] ?? 3;
            var prob = Tensor("prob.weight", [classes, width]) ?? new float[classes * width];
            return _g.Gemm(x, _g.Initializer("prob_W", prob, classes, width), null, transB: true, "logits");
        }

        /// <summary>Inference BatchNorm as a per-channel scale and shift, computed in double.</summary>
        private (float[] Scale, float[] Shift) BatchNorm(string name, int channels)
        {
            var gamma = Tensor(name + ".weight", [channels]);
            var beta = Tensor(name + ".bias", [channels]);
            var mean = Tensor(name + ".running_mean", [channels]);
            var variance = Tensor(name + ".running_var", [channels]);
            var scale = new float[channels];
            var shift = new float[channels];
            if (gamma is null || beta is null || mean is null || variance is null) return (scale, shift);
            for (int c = 0; c < channels; c++)
            {
                double s = gamma[c] / Math.Sqrt(variance[c] + (double)BatchNormEpsilon);
                scale[c] = (float)s;
                shift[c] = (float)(beta[c] - mean[c] * s);
            }
            return (scale, shift);
        }
    }
}
