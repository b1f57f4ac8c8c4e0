using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;

namespace FaceNet.Import.Weights;

internal static partial class TfjsGraphConverter
{
    // convolutions, their fused bias and activation, batch-norm folding, padding, matrix products
    private sealed partial class Converter
    {
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
    }
}
