using FaceNet.Models;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>One convolution of the network, with its Keras (seed) and facenet-pytorch names.</summary>
/// <param name="Bias">True for the residual "up" convolutions (bias, no BatchNorm); false for conv + BatchNorm.</param>
internal sealed record ConvLayer(string KerasName, string TorchName, int In, int Out, int Kh, int Kw, int Stride, int PadH, int PadW, bool Bias);

/// <summary>
/// Inception-ResNet-V1 exactly as the seed defines it: stem, 5×Block35 (scale 0.17), Mixed_6a,
/// 10×Block17 (0.10), Mixed_7a, 5×Block8 (0.20), a sixth Block8 (1.0, no ReLU), global average pool,
/// Bottleneck (no bias) + BatchNorm. Input 160×160×3 (any size ≥ 75 works: the pool is global), NCHW,
/// dynamic batch. BatchNorm (epsilon 0.001) is folded into the preceding convolution, and the block
/// scale into the residual convolution, so ONNX Runtime runs Conv → Relu chains only.
/// </summary>
public static class InceptionResNetV1
{
    public const int InputSize = 160;
    public const float BatchNormEpsilon = 0.001f;
    public const string InputName = "input";
    public const string OutputName = "embedding";

    /// <summary>The graph operations the network definition needs; lets one definition drive the ONNX build and the tensor list.</summary>
    internal interface INetwork
    {
        string Conv(string x, ConvLayer layer, bool relu);
        string MaxPool3x3s2(string x, string name);
        string Concat(string name, params string[] branches);
        /// <summary>x + scale·up, then ReLU unless <paramref name="relu"/> is false; the scale is folded into <paramref name="upLayer"/>.</summary>
        string Residual(string x, string mixed, ConvLayer upLayer, float scale, bool relu);
    }

    /// <summary>The seed's network, layer by layer, ending before the global pool (3×3×1792 at 160×160).</summary>
    internal static string Define(INetwork net, string input)
    {
        ConvLayer Bn(string keras, string torch, int cin, int cout, int kh, int kw, int stride = 1, bool same = true)
            => new(keras, torch, cin, cout, kh, kw, stride, same ? kh / 2 : 0, same ? kw / 2 : 0, Bias: false);

        // Stem: 160×160×3 → 17×17×256.
        var x = net.Conv(input, Bn("Conv2d_1a_3x3", "conv2d_1a", 3, 32, 3, 3, 2, same: false), true);
        x = net.Conv(x, Bn("Conv2d_2a_3x3", "conv2d_2a", 32, 32, 3, 3, same: false), true);
        x = net.Conv(x, Bn("Conv2d_2b_3x3", "conv2d_2b", 32, 64, 3, 3), true);
        x = net.MaxPool3x3s2(x, "MaxPool_3a_3x3");
        x = net.Conv(x, Bn("Conv2d_3b_1x1", "conv2d_3b", 64, 80, 1, 1, same: false), true);
        x = net.Conv(x, Bn("Conv2d_4a_3x3", "conv2d_4a", 80, 192, 3, 3, same: false), true);
        x = net.Conv(x, Bn("Conv2d_4b_3x3", "conv2d_4b", 192, 256, 3, 3, 2, same: false), true);

        for (int i = 1; i <= 5; i++)
        {
            string k = $"Block35_{i}", t = $"repeat_1.{i - 1}";
            var b0 = net.Conv(x, Bn($"{k}_Branch_0_Conv2d_1x1", $"{t}.branch0", 256, 32, 1, 1), true);
            var b1 = net.Conv(x, Bn($"{k}_Branch_1_Conv2d_0a_1x1", $"{t}.branch1.0", 256, 32, 1, 1), true);
            b1 = net.Conv(b1, Bn($"{k}_Branch_1_Conv2d_0b_3x3", $"{t}.branch1.1", 32, 32, 3, 3), true);
            var b2 = net.Conv(x, Bn($"{k}_Branch_2_Conv2d_0a_1x1", $"{t}.branch2.0", 256, 32, 1, 1), true);
            b2 = net.Conv(b2, Bn($"{k}_Branch_2_Conv2d_0b_3x3", $"{t}.branch2.1", 32, 32, 3, 3), true);
            b2 = net.Conv(b2, Bn($"{k}_Branch_2_Conv2d_0c_3x3", $"{t}.branch2.2", 32, 32, 3, 3), true);
            var mixed = net.Concat($"{k}_Concatenate", b0, b1, b2);
            x = net.Residual(x, mixed, new($"{k}_Conv2d_1x1", $"{t}.conv2d", 96, 256, 1, 1, 1, 0, 0, Bias: true), 0.17f, relu: true);
        }

        // Reduction-A: 17×17×256 → 8×8×896.
        {
            var b0 = net.Conv(x, Bn("Mixed_6a_Branch_0_Conv2d_1a_3x3", "mixed_6a.branch0", 256, 384, 3, 3, 2, same: false), true);
            var b1 = net.Conv(x, Bn("Mixed_6a_Branch_1_Conv2d_0a_1x1", "mixed_6a.branch1.0", 256, 192, 1, 1), true);
            b1 = net.Conv(b1, Bn("Mixed_6a_Branch_1_Conv2d_0b_3x3", "mixed_6a.branch1.1", 192, 192, 3, 3), true);
            b1 = net.Conv(b1, Bn("Mixed_6a_Branch_1_Conv2d_1a_3x3", "mixed_6a.branch1.2", 192, 256, 3, 3, 2, same: false), true);
            var pool = net.MaxPool3x3s2(x, "Mixed_6a_Branch_2_MaxPool_1a_3x3");
            x = net.Concat("Mixed_6a", b0, b1, pool);
        }

        for (int i = 1; i <= 10; i++)
        {
            string k = $"Block17_{i}", t = $"repeat_2.{i - 1}";
            var b0 = net.Conv(x, Bn($"{k}_Branch_0_Conv2d_1x1", $"{t}.branch0", 896, 128, 1, 1), true);
            var b1 = net.Conv(x, Bn($"{k}_Branch_1_Conv2d_0a_1x1", $"{t}.branch1.0", 896, 128, 1, 1), true);
            b1 = net.Conv(b1, Bn($"{k}_Branch_1_Conv2d_0b_1x7", $"{t}.branch1.1", 128, 128, 1, 7), true);
            b1 = net.Conv(b1, Bn($"{k}_Branch_1_Conv2d_0c_7x1", $"{t}.branch1.2", 128, 128, 7, 1), true);
            var mixed = net.Concat($"{k}_Concatenate", b0, b1);
            x = net.Residual(x, mixed, new($"{k}_Conv2d_1x1", $"{t}.conv2d", 256, 896, 1, 1, 1, 0, 0, Bias: true), 0.10f, relu: true);
        }

        // Reduction-B: 8×8×896 → 3×3×1792.
        {
            var b0 = net.Conv(x, Bn("Mixed_7a_Branch_0_Conv2d_0a_1x1", "mixed_7a.branch0.0", 896, 256, 1, 1), true);
            b0 = net.Conv(b0, Bn("Mixed_7a_Branch_0_Conv2d_1a_3x3", "mixed_7a.branch0.1", 256, 384, 3, 3, 2, same: false), true);
            var b1 = net.Conv(x, Bn("Mixed_7a_Branch_1_Conv2d_0a_1x1", "mixed_7a.branch1.0", 896, 256, 1, 1), true);
            b1 = net.Conv(b1, Bn("Mixed_7a_Branch_1_Conv2d_1a_3x3", "mixed_7a.branch1.1", 256, 256, 3, 3, 2, same: false), true);
            var b2 = net.Conv(x, Bn("Mixed_7a_Branch_2_Conv2d_0a_1x1", "mixed_7a.branch2.0", 896, 256, 1, 1), true);
            b2 = net.Conv(b2, Bn("Mixed_7a_Branch_2_Conv2d_0b_3x3", "mixed_7a.branch2.1", 256, 256, 3, 3), true);
            b2 = net.Conv(b2, Bn("Mixed_7a_Branch_2_Conv2d_1a_3x3", "mixed_7a.branch2.2", 256, 256, 3, 3, 2, same: false), true);
            var pool = net.MaxPool3x3s2(x, "Mixed_7a_Branch_3_MaxPool_1a_3x3");
            x = net.Concat("Mixed_7a", b0, b1, b2, pool);
        }

        for (int i = 1; i <= 6; i++)
        {
            string k = $"Block8_{i}", t = i <= 5 ? $"repeat_3.{i - 1}" : "block8";
            var b0 = net.Conv(x, Bn($"{k}_Branch_0_Conv2d_1x1", $"{t}.branch0", 1792, 192, 1, 1), true);
            var b1 = net.Conv(x, Bn($"{k}_Branch_1_Conv2d_0a_1x1", $"{t}.branch1.0", 1792, 192, 1, 1), true);
            b1 = net.Conv(b1, Bn($"{k}_Branch_1_Conv2d_0b_1x3", $"{t}.branch1.1", 192, 192, 1, 3), true);
            b1 = net.Conv(b1, Bn($"{k}_Branch_1_Conv2d_0c_3x1", $"{t}.branch1.2", 192, 192, 3, 1), true);
            var mixed = net.Concat($"{k}_Concatenate", b0, b1);
            bool last = i == 6;
            x = net.Residual(x, mixed, new($"{k}_Conv2d_1x1", $"{t}.conv2d", 384, 1792, 1, 1, 1, 0, 0, Bias: true), last ? 1.0f : 0.20f, relu: !last);
        }
        return x;
    }

    /// <summary>The weight tensors the network reads, with their shapes, in the naming of <paramref name="format"/>.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> ExpectedTensors(WeightFormat format, int embeddingSize)
    {
        var recorder = new LayerRecorder();
        Define(recorder, InputName);
        var result = new List<(string, int[])>();
        foreach (var l in recorder.Layers) result.AddRange(WeightLayout.For(format).ConvTensors(l));
        result.AddRange(WeightLayout.For(format).BottleneckTensors(1792, embeddingSize));
        return result;
    }

    /// <summary>Builds the ONNX model from imported weights; every missing or mismatched tensor is listed in one error.</summary>
    internal static OnnxGraphBuilder Build(WeightSet weights, int? embeddingSize = null)
    {
        var layout = WeightLayout.For(weights.Format);
        int size = embeddingSize ?? layout.InferEmbeddingSize(weights) ?? 128;
        var problems = new List<string>();
        var g = new OnnxGraphBuilder("inception_resnet_v1");
        var input = g.Input(InputName, -1, 3, -1, -1);
        var net = new GraphNetwork(g, weights, layout, problems);
        var features = Define(net, input);
        var pooled = g.Flatten(g.GlobalAveragePool(features, "AvgPool"), 1, "AvgPool_flat");
        var (w, b) = layout.FoldedBottleneck(weights, 1792, size, problems);
        var emb = g.Gemm(pooled, g.Initializer("Bottleneck_W", w, 1792, size), g.Initializer("Bottleneck_B", b, size), transB: false, name: OutputName);
        g.Output(emb, -1, size);
        if (problems.Count > 0)
            throw TensorLookup.Mismatch(weights, $"Inception-ResNet-V1 ({weights.Format} naming)", problems);
        return g;
    }

    /// <summary>Seeded random weights in the given naming: for benchmarks and tests of the importers.</summary>
    public static WeightSet RandomWeights(WeightFormat format, int embeddingSize = 128, int seed = 1234)
    {
        var rng = new Random(seed);
        var tensors = new List<NamedTensor>();
        foreach (var (name, shape) in ExpectedTensors(format, embeddingSize))
        {
            var n = shape.Aggregate(1, (a, b) => a * b);
            var data = new float[n];
            var leaf = name[(name.LastIndexOfAny(['/', '.']) + 1)..];
            // fan-in: everything but the output dimension (Keras kernels end with it, PyTorch weights start with it).
            int fanIn = shape.Length switch
            {
                4 => format == WeightFormat.Keras ? shape[0] * shape[1] * shape[2] : shape[1] * shape[2] * shape[3],
                2 => format == WeightFormat.Keras ? shape[0] : shape[1],
                _ => 1,
            };
            for (int i = 0; i < n; i++)
            {
                double u = rng.NextDouble();
                data[i] = leaf switch
                {
                    "kernel" or "weight" when shape.Length > 1 => (float)((2 * u - 1) * Math.Sqrt(6.0 / fanIn)),
                    "moving_variance" or "running_var" => (float)(0.5 + u),
                    "gamma" or "weight" => (float)(0.5 + u),
                    _ => (float)(0.2 * (u - 0.5)), // beta, bias, means
                };
            }
            tensors.Add(new NamedTensor(name, shape, data));
        }
        return new WeightSet($"random(seed={seed})", format, tensors);
    }

    private sealed class LayerRecorder : INetwork
    {
        public List<ConvLayer> Layers { get; } = new();
        public string Conv(string x, ConvLayer layer, bool relu) { Layers.Add(layer); return layer.KerasName; }
        public string MaxPool3x3s2(string x, string name) => name;
        public string Concat(string name, params string[] branches) => name;
        public string Residual(string x, string mixed, ConvLayer upLayer, float scale, bool relu) { Layers.Add(upLayer); return upLayer.KerasName; }
    }

    private sealed class GraphNetwork(OnnxGraphBuilder g, WeightSet weights, WeightLayout layout, List<string> problems) : INetwork
    {
        public string Conv(string x, ConvLayer layer, bool relu)
        {
            var (w, b) = layout.FoldedConv(weights, layer, 1f, problems);
            var y = g.Conv(x, g.Initializer(layer.KerasName + "_W", w, layer.Out, layer.In, layer.Kh, layer.Kw),
                g.Initializer(layer.KerasName + "_B", b, layer.Out), layer.Kh, layer.Kw, layer.Stride, layer.PadH, layer.PadW, layer.KerasName);
            return relu ? g.Relu(y, layer.KerasName + "_Activation") : y;
        }

        public string MaxPool3x3s2(string x, string name) => g.MaxPool(x, 3, 2, 0, name);

        public string Concat(string name, params string[] branches) => g.Concat(1, branches, name);

        public string Residual(string x, string mixed, ConvLayer upLayer, float scale, bool relu)
        {
            var (w, b) = layout.FoldedConv(weights, upLayer, scale, problems);
            var up = g.Conv(mixed, g.Initializer(upLayer.KerasName + "_W", w, upLayer.Out, upLayer.In, 1, 1),
                g.Initializer(upLayer.KerasName + "_B", b, upLayer.Out), 1, 1, 1, 0, 0, upLayer.KerasName);
            var prefix = upLayer.KerasName[..^"_Conv2d_1x1".Length];
            var sum = g.Add(x, up, prefix + "_Add");
            return relu ? g.Relu(sum, prefix + "_Activation") : sum;
        }
    }
}
