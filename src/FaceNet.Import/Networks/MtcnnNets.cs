using FaceNet.Models;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>
/// MTCNN's three networks (P-Net, R-Net, O-Net) as ONNX graphs, from facenet-pytorch's state dicts.
/// Those weights keep the original Caffe (column-major) layout, so R-Net and O-Net transpose their
/// feature map to (N, W, H, C) before the dense layers, as facenet-pytorch does.
/// Inputs are NCHW RGB, already standardised: (x − 127.5) / 128.
/// </summary>
internal static class MtcnnNets
{
    /// <summary>P-Net: fully convolutional; outputs <c>prob</c> [N,2,H',W'] (softmax) and <c>reg</c> [N,4,H',W'].</summary>
    public static byte[] PNet(WeightSet w)
    {
        var p = new List<string>();
        var g = new OnnxGraphBuilder("mtcnn_pnet");
        var x = g.Input("input", -1, 3, -1, -1);
        x = ConvPRelu(g, w, x, "conv1", "prelu1", 3, 10, 3, p);
        x = g.MaxPool(x, 2, 2, 0, "pool1", ceil: true);
        x = ConvPRelu(g, w, x, "conv2", "prelu2", 10, 16, 3, p);
        x = ConvPRelu(g, w, x, "conv3", "prelu3", 16, 32, 3, p);
        var prob = g.Softmax(Conv(g, w, x, "conv4_1", 32, 2, 1, p), 1, "prob");
        var reg = Conv(g, w, x, "conv4_2", 32, 4, 1, p, "reg");
        g.Output(prob, -1, 2, -1, -1);
        g.Output(reg, -1, 4, -1, -1);
        return Finish(g, w, p);
    }

    /// <summary>R-Net on 24×24 crops: <c>prob</c> [N,2], <c>reg</c> [N,4].</summary>
    public static byte[] RNet(WeightSet w)
    {
        var p = new List<string>();
        var g = new OnnxGraphBuilder("mtcnn_rnet");
        var x = g.Input("input", -1, 3, 24, 24);
        x = ConvPRelu(g, w, x, "conv1", "prelu1", 3, 28, 3, p);
        x = g.MaxPool(x, 3, 2, 0, "pool1", ceil: true);
        x = ConvPRelu(g, w, x, "conv2", "prelu2", 28, 48, 3, p);
        x = g.MaxPool(x, 3, 2, 0, "pool2", ceil: true);
        x = ConvPRelu(g, w, x, "conv3", "prelu3", 48, 64, 2, p);
        x = g.Flatten(g.Transpose(x, [0, 3, 2, 1], "permute"), 1, "flatten");
        x = DensePRelu(g, w, x, "dense4", "prelu4", 576, 128, p);
        var prob = g.Softmax(Dense(g, w, x, "dense5_1", 128, 2, p), 1, "prob");
        var reg = Dense(g, w, x, "dense5_2", 128, 4, p, "reg");
        g.Output(prob, -1, 2);
        g.Output(reg, -1, 4);
        return Finish(g, w, p);
    }

    /// <summary>O-Net on 48×48 crops: <c>prob</c> [N,2], <c>reg</c> [N,4], <c>landmarks</c> [N,10] (5 x then 5 y).</summary>
    public static byte[] ONet(WeightSet w)
    {
        var p = new List<string>();
        var g = new OnnxGraphBuilder("mtcnn_onet");
        var x = g.Input("input", -1, 3, 48, 48);
        x = ConvPRelu(g, w, x, "conv1", "prelu1", 3, 32, 3, p);
        x = g.MaxPool(x, 3, 2, 0, "pool1", ceil: true);
        x = ConvPRelu(g, w, x, "conv2", "prelu2", 32, 64, 3, p);
        x = g.MaxPool(x, 3, 2, 0, "pool2", ceil: true);
        x = ConvPRelu(g, w, x, "conv3", "prelu3", 64, 64, 3, p);
        x = g.MaxPool(x, 2, 2, 0, "pool3", ceil: true);
        x = ConvPRelu(g, w, x, "conv4", "prelu4", 64, 128, 2, p);
        x = g.Flatten(g.Transpose(x, [0, 3, 2, 1], "permute"), 1, "flatten");
        x = DensePRelu(g, w, x, "dense5", "prelu5", 1152, 256, p);
        var prob = g.Softmax(Dense(g, w, x, "dense6_1", 256, 2, p), 1, "prob");
        var reg = Dense(g, w, x, "dense6_2", 256, 4, p, "reg");
        var landmarks = Dense(g, w, x, "dense6_3", 256, 10, p, "landmarks");
        g.Output(prob, -1, 2);
        g.Output(reg, -1, 4);
        g.Output(landmarks, -1, 10);
        return Finish(g, w, p);
    }

    private static byte[] Finish(OnnxGraphBuilder g, WeightSet w, List<string> problems)
    {
        if (problems.Count > 0) throw TensorLookup.Mismatch(w, "MTCNN", problems);
        return g.ToBytes();
    }

    private static string Conv(OnnxGraphBuilder g, WeightSet w, string x, string name, int cin, int cout, int k, List<string> p, string? output = null)
    {
        var weight = Get(w, name + ".weight", [cout, cin, k, k], p) ?? new float[cout * cin * k * k];
        var bias = Get(w, name + ".bias", [cout], p) ?? new float[cout];
        return g.Conv(x, g.Initializer(name + "_W", weight, cout, cin, k, k), g.Initializer(name + "_B", bias, cout), k, k, 1, 0, 0, output ?? name);
    }

    private static string ConvPRelu(OnnxGraphBuilder g, WeightSet w, string x, string conv, string prelu, int cin, int cout, int k, List<string> p)
    {
        var y = Conv(g, w, x, conv, cin, cout, k, p);
        var slope = Get(w, prelu + ".weight", [cout], p) ?? new float[cout];
        return g.PRelu(y, g.Initializer(prelu + "_slope", slope, cout, 1, 1), prelu);
    }

    private static string Dense(OnnxGraphBuilder g, WeightSet w, string x, string name, int cin, int cout, List<string> p, string? output = null)
    {
        var weight = Get(w, name + ".weight", [cout, cin], p) ?? new float[cout * cin];
        var bias = Get(w, name + ".bias", [cout], p) ?? new float[cout];
        return g.Gemm(x, g.Initializer(name + "_W", weight, cout, cin), g.Initializer(name + "_B", bias, cout), transB: true, output ?? name);
    }

    private static string DensePRelu(OnnxGraphBuilder g, WeightSet w, string x, string dense, string prelu, int cin, int cout, List<string> p)
    {
        var y = Dense(g, w, x, dense, cin, cout, p);
        var slope = Get(w, prelu + ".weight", [cout], p) ?? new float[cout];
        return g.PRelu(y, g.Initializer(prelu + "_slope", slope, cout), prelu);
    }

    private static float[]? Get(WeightSet w, string name, int[] shape, List<string> problems) => TensorLookup.Get(w, name, shape, problems);
}
