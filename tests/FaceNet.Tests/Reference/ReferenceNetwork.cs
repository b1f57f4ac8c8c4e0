namespace FaceNet.Tests.Reference;

/// <summary>Parameters of one conv (+BatchNorm) layer in the reference's own terms.</summary>
/// <param name="Kernel">Accessor (ky, kx, ci, co) → weight.</param>
internal sealed record RefConv(int Kh, int Kw, int In, int Out, Func<int, int, int, int, double> Kernel,
    double[]? Bias, double[]? Gamma, double[]? Beta, double[]? Mean, double[]? Var);

/// <summary>
/// An independent, deliberately plain forward pass of the seed's Inception-ResNet-V1: NHWC, double
/// precision, nested loops, BatchNorm applied as written (not folded), written from the seed's Keras
/// code. The importers' ONNX graphs are checked against it.
/// </summary>
internal sealed class ReferenceNetwork(Func<string, RefConv> conv, Func<(double[,] W, double[]? Gamma, double[] Beta, double[] Mean, double[] Var)> bottleneck)
{
    private const double Eps = 0.001;

    private sealed class T(int h, int w, int c)
    {
        public readonly int H = h, W = w, C = c;
        public readonly double[] D = new double[h * w * c];
        public ref double this[int y, int x, int ch] => ref D[(y * W + x) * C + ch];
    }

    /// <summary>The seed's <c>pre_process</c> (prewhiten) of an HWC RGB byte image.</summary>
    public static double[] Prewhiten(byte[] rgb)
    {
        double mean = rgb.Average(b => (double)b);
        double std = Math.Sqrt(rgb.Average(b => (b - mean) * (b - mean)));
        double adj = Math.Max(std, 1.0 / Math.Sqrt(rgb.Length));
        return rgb.Select(b => (b - mean) / adj).ToArray();
    }

    /// <summary>Forward pass of an HWC input, then the seed's l2_normalize.</summary>
    public double[] Embed(double[] hwc, int size)
    {
        var x = new T(size, size, 3);
        Array.Copy(hwc, x.D, hwc.Length);
        x = ConvBn(x, "Conv2d_1a_3x3", 2, false);
        x = ConvBn(x, "Conv2d_2a_3x3", 1, false);
        x = ConvBn(x, "Conv2d_2b_3x3", 1, true);
        x = MaxPool(x);
        x = ConvBn(x, "Conv2d_3b_1x1", 1, false);
        x = ConvBn(x, "Conv2d_4a_3x3", 1, false);
        x = ConvBn(x, "Conv2d_4b_3x3", 2, false);
        for (int i = 1; i <= 5; i++) x = Block(x, "Block35", i, 0.17, true);
        {
            var b0 = ConvBn(x, "Mixed_6a_Branch_0_Conv2d_1a_3x3", 2, false);
            var b1 = ConvBn(x, "Mixed_6a_Branch_1_Conv2d_0a_1x1", 1, true);
            b1 = ConvBn(b1, "Mixed_6a_Branch_1_Conv2d_0b_3x3", 1, true);
            b1 = ConvBn(b1, "Mixed_6a_Branch_1_Conv2d_1a_3x3", 2, false);
            x = Concat(b0, b1, MaxPool(x));
        }
        for (int i = 1; i <= 10; i++) x = Block(x, "Block17", i, 0.10, true);
        {
            var b0 = ConvBn(ConvBn(x, "Mixed_7a_Branch_0_Conv2d_0a_1x1", 1, true), "Mixed_7a_Branch_0_Conv2d_1a_3x3", 2, false);
            var b1 = ConvBn(ConvBn(x, "Mixed_7a_Branch_1_Conv2d_0a_1x1", 1, true), "Mixed_7a_Branch_1_Conv2d_1a_3x3", 2, false);
            var b2 = ConvBn(ConvBn(ConvBn(x, "Mixed_7a_Branch_2_Conv2d_0a_1x1", 1, true), "Mixed_7a_Branch_2_Conv2d_0b_3x3", 1, true),
                "Mixed_7a_Branch_2_Conv2d_1a_3x3", 2, false);
            x = Concat(b0, b1, b2, MaxPool(x));
        }
        for (int i = 1; i <= 5; i++) x = Block(x, "Block8", i, 0.20, true);
        x = Block(x, "Block8", 6, 1.0, false);

        var pooled = new double[x.C];
        for (int y = 0; y < x.H; y++)
        for (int xx = 0; xx < x.W; xx++)
        for (int c = 0; c < x.C; c++)
            pooled[c] += x[y, xx, c] / (x.H * x.W);
        var (w, gamma, beta, mean, variance) = bottleneck();
        int outputs = w.GetLength(1);
        var emb = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double s = 0;
            for (int i = 0; i < pooled.Length; i++) s += pooled[i] * w[i, o];
            emb[o] = (gamma?[o] ?? 1.0) * (s - mean[o]) / Math.Sqrt(variance[o] + Eps) + beta[o];
        }
        double norm = Math.Sqrt(Math.Max(emb.Sum(v => v * v), 1e-10));
        return emb.Select(v => v / norm).ToArray();
    }

    private T Block(T x, string type, int idx, double scale, bool relu)
    {
        string p = $"{type}_{idx}";
        T mixed;
        if (type == "Block35")
        {
            var b0 = ConvBn(x, $"{p}_Branch_0_Conv2d_1x1", 1, true);
            var b1 = ConvBn(ConvBn(x, $"{p}_Branch_1_Conv2d_0a_1x1", 1, true), $"{p}_Branch_1_Conv2d_0b_3x3", 1, true);
            var b2 = ConvBn(ConvBn(ConvBn(x, $"{p}_Branch_2_Conv2d_0a_1x1", 1, true), $"{p}_Branch_2_Conv2d_0b_3x3", 1, true), $"{p}_Branch_2_Conv2d_0c_3x3", 1, true);
            mixed = Concat(b0, b1, b2);
        }
        else
        {
            string k1 = type == "Block17" ? "1x7" : "1x3", k2 = type == "Block17" ? "7x1" : "3x1";
            var b0 = ConvBn(x, $"{p}_Branch_0_Conv2d_1x1", 1, true);
            var b1 = ConvBn(ConvBn(ConvBn(x, $"{p}_Branch_1_Conv2d_0a_1x1", 1, true), $"{p}_Branch_1_Conv2d_0b_{k1}", 1, true), $"{p}_Branch_1_Conv2d_0c_{k2}", 1, true);
            mixed = Concat(b0, b1);
        }
        var up = ConvBn(mixed, $"{p}_Conv2d_1x1", 1, true, activation: false);
        var result = new T(x.H, x.W, x.C);
        for (int i = 0; i < result.D.Length; i++)
        {
            double v = x.D[i] + scale * up.D[i];
            result.D[i] = relu ? Math.Max(0, v) : v;
        }
        return result;
    }

    /// <summary>Keras Conv2D (+ BatchNorm) (+ ReLU); 'same' pads (k−1)/2 on each side for the odd kernels used.</summary>
    private T ConvBn(T x, string name, int stride, bool same, bool activation = true)
    {
        var p = conv(name);
        if (p.In != x.C) throw new InvalidOperationException($"{name}: {p.In} input channels, got {x.C}");
        int padH = same ? (p.Kh - 1) / 2 : 0, padW = same ? (p.Kw - 1) / 2 : 0;
        int oh = (x.H + 2 * padH - p.Kh) / stride + 1, ow = (x.W + 2 * padW - p.Kw) / stride + 1;
        var y = new T(oh, ow, p.Out);
        var k = new double[p.Kh, p.Kw, p.In, p.Out];
        for (int a = 0; a < p.Kh; a++) for (int b = 0; b < p.Kw; b++) for (int c = 0; c < p.In; c++) for (int o = 0; o < p.Out; o++) k[a, b, c, o] = p.Kernel(a, b, c, o);
        var acc = new double[p.Out];
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            Array.Clear(acc);
            for (int ky = 0; ky < p.Kh; ky++)
            {
                int iy = oy * stride + ky - padH;
                if (iy < 0 || iy >= x.H) continue;
                for (int kx = 0; kx < p.Kw; kx++)
                {
                    int ix = ox * stride + kx - padW;
                    if (ix < 0 || ix >= x.W) continue;
                    int baseIdx = (iy * x.W + ix) * x.C;
                    for (int c = 0; c < p.In; c++)
                    {
                        double v = x.D[baseIdx + c];
                        if (v == 0) continue;
                        for (int o = 0; o < p.Out; o++) acc[o] += v * k[ky, kx, c, o];
                    }
                }
            }
            for (int o = 0; o < p.Out; o++)
            {
                double v = acc[o];
                if (p.Bias is not null) v += p.Bias[o];
                else v = (p.Gamma?[o] ?? 1.0) * (v - p.Mean![o]) / Math.Sqrt(p.Var![o] + Eps) + p.Beta![o];
                y[oy, ox, o] = activation ? Math.Max(0, v) : v;
            }
        }
        return y;
    }

    private static T MaxPool(T x)
    {
        int oh = (x.H - 3) / 2 + 1, ow = (x.W - 3) / 2 + 1;
        var y = new T(oh, ow, x.C);
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        for (int c = 0; c < x.C; c++)
        {
            double m = double.NegativeInfinity;
            for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++) m = Math.Max(m, x[oy * 2 + a, ox * 2 + b, c]);
            y[oy, ox, c] = m;
        }
        return y;
    }

    private static T Concat(params T[] parts)
    {
        var y = new T(parts[0].H, parts[0].W, parts.Sum(p => p.C));
        for (int i = 0; i < y.H * y.W; i++)
        {
            int off = 0;
            foreach (var p in parts)
            {
                Array.Copy(p.D, i * p.C, y.D, i * y.C + off, p.C);
                off += p.C;
            }
        }
        return y;
    }
}
