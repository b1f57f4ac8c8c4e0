using FaceNet.Models;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>
/// The face recognition network of face-api.js: a 29-layer ResNet after dlib's
/// <c>dlib_face_recognition_resnet_model_v1</c>, 150×150 RGB in, 128-d out. Built from its TF.js
/// weight names (<c>conv32_down/conv/filters</c>, …). Each conv is followed by a bias and an affine
/// "scale" layer (BatchNorm at inference); both are folded into the convolution.
/// Down-sampling blocks add the 2×2 average-pooled input, zero-padded in channels (and in size where
/// the strided convolution came out one pixel smaller), to the residual branch, as face-api.js does.
/// </summary>
public static class DlibResNet
{
    public const int InputSize = 150;

    /// <summary>face-api.js's preprocessing: subtract the mean RGB, divide by 255.</summary>
    public const string Preprocess = "meanstd:122.782,117.001,104.298:255,255,255";

    /// <summary>
    /// How the network is used. It was trained (by dlib) on dlib's face chips, so faces are aligned onto
    /// dlib's mean face (<c>template:dlib</c>); face-api.js's own axis-aligned crop costs it 7 points on LFW.
    /// The threshold is the accuracy-maximising one on LFW View 1 DevTrain with the default detector.
    /// </summary>
    public static ModelInfo DefaultInfo { get; } = new()
    {
        InputSize = InputSize, Preprocess = Preprocess, Alignment = "template:dlib", EmbeddingSize = 128, Name = "faceapi-resnet",
        Threshold = 0.4243, ThresholdFar = 0.011818, ThresholdFrr = 0.010909,
        Calibration = "accuracy-maximising threshold on LFW View 1 DevTrain (1100 same, 1100 different pairs; detector yunet+onet)",
    };

    private sealed record Block(string Name, int In, int Out, bool Down);

    private static readonly Block[] Blocks =
    [
        new("conv32_1", 32, 32, false), new("conv32_2", 32, 32, false), new("conv32_3", 32, 32, false),
        new("conv64_down", 32, 64, true), new("conv64_1", 64, 64, false), new("conv64_2", 64, 64, false), new("conv64_3", 64, 64, false),
        new("conv128_down", 64, 128, true), new("conv128_1", 128, 128, false), new("conv128_2", 128, 128, false),
        new("conv256_down", 128, 256, true), new("conv256_1", 256, 256, false), new("conv256_2", 256, 256, false),
        new("conv256_down_out", 256, 256, true),
    ];

    internal static OnnxGraphBuilder Build(WeightSet w)
    {
        var problems = new List<string>();
        var g = new OnnxGraphBuilder("face_api_resnet");
        var x = g.Input(InceptionResNetV1.InputName, -1, 3, InputSize, InputSize);
        int size = InputSize;
        x = Conv(g, w, x, "conv32_down", 3, 32, 7, stride: 2, pad: 0, relu: true, problems);
        size = (size - 7) / 2 + 1;
        x = g.MaxPool(x, 3, 2, 0, "maxpool");
        size = (size - 3) / 2 + 1;
        foreach (var b in Blocks)
        {
            if (!b.Down)
            {
                var y = Conv(g, w, x, $"{b.Name}/conv1", b.In, b.Out, 3, 1, 1, true, problems);
                y = Conv(g, w, y, $"{b.Name}/conv2", b.Out, b.Out, 3, 1, 1, false, problems);
                x = g.Relu(g.Add(y, x, $"{b.Name}/add"), $"{b.Name}/relu");
                continue;
            }
            var r = Conv(g, w, x, $"{b.Name}/conv1", b.In, b.Out, 3, 2, 0, true, problems);
            r = Conv(g, w, r, $"{b.Name}/conv2", b.Out, b.Out, 3, 1, 1, false, problems);
            int convSize = (size - 3) / 2 + 1, poolSize = size / 2;
            if (convSize != poolSize) // face-api.js appends a zero row and column to the residual branch
                r = Pad(g, r, 0, poolSize - convSize, $"{b.Name}/pad_hw");
            var pooled = g.Node("AveragePool", [x], $"{b.Name}/avgpool",
                OnnxGraphBuilder.Ints("kernel_shape", 2, 2),
                OnnxGraphBuilder.Ints("strides", 2, 2));
            if (b.Out != b.In) pooled = Pad(g, pooled, b.Out - b.In, 0, $"{b.Name}/pad_c");
            x = g.Relu(g.Add(r, pooled, $"{b.Name}/add"), $"{b.Name}/relu");
            size = poolSize;
        }
        var avg = g.Flatten(g.GlobalAveragePool(x, "avg"), 1, "avg_flat");
        var fc = Get(w, "fc", [256, 128], problems);
        var fcWeights = w.TryGet("fc", out var fcTensor) && fcTensor.Uint8 is { } fq
            ? g.DequantizedInitializer("fc", fq.Values, fq.Scale, fq.Min, 256, 128)
            : g.Initializer("fc", fc ?? new float[256 * 128], 256, 128);
        var emb = g.MatMul(avg, fcWeights, InceptionResNetV1.OutputName);
        g.Output(emb, -1, 128);
        if (problems.Count > 0)
            throw TensorLookup.Mismatch(w, "the face-api.js recognition network", problems);
        return g;
    }

    private static string Pad(OnnxGraphBuilder g, string x, int channels, int hw, string name)
    {
        // pads: [N, C, H, W begin, N, C, H, W end]; zeros appended after the existing values.
        var pads = g.InitializerInt64(name + "_pads", [0, 0, 0, 0, 0, channels, hw, hw], 8);
        return g.Node("Pad", [x, pads], name);
    }

    private static string Conv(OnnxGraphBuilder g, WeightSet w, string x, string prefix, int cin, int cout, int k, int stride, int pad,
        bool relu, List<string> problems)
    {
        var filters = Get(w, $"{prefix}/conv/filters", [k, k, cin, cout], problems);
        var bias = Get(w, $"{prefix}/conv/bias", [cout], problems);
        var scale = Get(w, $"{prefix}/scale/weights", [cout], problems);
        var shift = Get(w, $"{prefix}/scale/biases", [cout], problems);
        var wOut = new float[cout * cin * k * k];
        var bOut = new float[cout];
        var name = prefix.Replace('/', '_');
        string weights;
        if (filters is not null && bias is not null && scale is not null && shift is not null)
        {
            for (int o = 0; o < cout; o++) bOut[o] = bias[o] * scale[o] + shift[o];
            if (w.TryGet($"{prefix}/conv/filters", out var ft) && ft.Uint8 is { } q)
            {
                // quantised weights stay uint8 in the model (HWIO → OIHW is a reordering of bytes); the scale
                // layer multiplies them when ONNX Runtime folds the constants at load
                var oihw = new byte[q.Values.Length];
                for (int y = 0; y < k; y++)
                for (int xx = 0; xx < k; xx++)
                for (int i = 0; i < cin; i++)
                for (int o = 0; o < cout; o++)
                    oihw[((o * cin + i) * k + y) * k + xx] = q.Values[((y * k + xx) * cin + i) * cout + o];
                var deq = g.DequantizedInitializer(name + "_Wq", oihw, q.Scale, q.Min, cout, cin, k, k);
                weights = g.Mul(deq, g.Initializer(name + "_Wscale", scale.ToArray(), cout, 1, 1, 1), name + "_W");
            }
            else
            {
                for (int y = 0; y < k; y++)
                for (int xx = 0; xx < k; xx++)
                for (int i = 0; i < cin; i++)
                for (int o = 0; o < cout; o++)
                    wOut[((o * cin + i) * k + y) * k + xx] = filters[((y * k + xx) * cin + i) * cout + o] * scale[o];
                weights = g.Initializer(name + "_W", wOut, cout, cin, k, k);
            }
        }
        else weights = g.Initializer(name + "_W", wOut, cout, cin, k, k);
        var conv = g.Conv(x, weights, g.Initializer(name + "_B", bOut, cout), k, k, stride, pad, pad, name);
        return relu ? g.Relu(conv, name + "_relu") : conv;
    }

    private static float[]? Get(WeightSet w, string name, int[] shape, List<string> problems) => TensorLookup.Get(w, name, shape, problems);
}
