using FaceNet.Models;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>
/// How a weight file names and lays out the tensors of a layer: Keras (the seed's names, HWIO
/// kernels, BatchNorm without gamma) or facenet-pytorch (OIHW weights, BatchNorm with gamma).
/// Turns them into the OIHW weights + bias that the ONNX graph uses, with BatchNorm folded in.
/// </summary>
internal abstract class WeightLayout
{
    public static WeightLayout For(WeightFormat format) => format == WeightFormat.Keras ? Keras.Instance : Torch.Instance;

    public abstract IEnumerable<(string Name, int[] Shape)> ConvTensors(ConvLayer layer);
    public abstract IEnumerable<(string Name, int[] Shape)> BottleneckTensors(int inputs, int outputs);
    public abstract int? InferEmbeddingSize(WeightSet weights);

    /// <summary>OIHW weights and bias, BatchNorm folded, everything multiplied by <paramref name="scale"/>.</summary>
    public abstract (float[] W, float[] B) FoldedConv(WeightSet weights, ConvLayer layer, float scale, List<string> problems);

    /// <summary>Weights [inputs, outputs] (row-major, for Gemm without transpose) and bias of Bottleneck + BatchNorm.</summary>
    public abstract (float[] W, float[] B) FoldedBottleneck(WeightSet weights, int inputs, int outputs, List<string> problems);

    protected static float[] Get(WeightSet weights, string name, int[] shape, List<string> problems, bool optional = false)
        => TensorLookup.Get(weights, name, shape, problems, optional)!;

    /// <summary>Per-output-channel scale and shift of an inference BatchNorm: y = x·s + t.</summary>
    protected static (float[] S, float[] T) BatchNorm(float[]? gamma, float[] beta, float[] mean, float[] variance)
    {
        var s = new float[beta.Length];
        var t = new float[beta.Length];
        for (int o = 0; o < s.Length; o++)
        {
            double si = (gamma?[o] ?? 1.0) / Math.Sqrt(variance[o] + (double)InceptionResNetV1.BatchNormEpsilon);
            s[o] = (float)si;
            t[o] = (float)(beta[o] - mean[o] * si);
        }
        return (s, t);
    }

    private static (float[], float[]) Empty(int weights, int bias) => (new float[weights], new float[bias]);

    private sealed class Keras : WeightLayout
    {
        public static readonly Keras Instance = new();

        public override IEnumerable<(string, int[])> ConvTensors(ConvLayer l)
        {
            yield return ($"{l.KerasName}/kernel", [l.Kh, l.Kw, l.In, l.Out]);
            if (l.Bias) { yield return ($"{l.KerasName}/bias", [l.Out]); yield break; }
            foreach (var p in new[] { "beta", "moving_mean", "moving_variance" }) yield return ($"{l.KerasName}_BatchNorm/{p}", [l.Out]);
        }

        public override IEnumerable<(string, int[])> BottleneckTensors(int inputs, int outputs)
        {
            yield return ("Bottleneck/kernel", [inputs, outputs]);
            foreach (var p in new[] { "beta", "moving_mean", "moving_variance" }) yield return ($"Bottleneck_BatchNorm/{p}", [outputs]);
        }

        public override int? InferEmbeddingSize(WeightSet w) => w.TryGet("Bottleneck/kernel", out var t) && t.Shape.Length == 2 ? t.Shape[1] : null;

        public override (float[] W, float[] B) FoldedConv(WeightSet weights, ConvLayer l, float scale, List<string> problems)
        {
            int before = problems.Count;
            var k = Get(weights, $"{l.KerasName}/kernel", [l.Kh, l.Kw, l.In, l.Out], problems);
            float[] s, t;
            if (l.Bias)
            {
                var bias = Get(weights, $"{l.KerasName}/bias", [l.Out], problems);
                (s, t) = (Enumerable.Repeat(1f, l.Out).ToArray(), bias);
            }
            else
            {
                var bn = $"{l.KerasName}_BatchNorm";
                var beta = Get(weights, $"{bn}/beta", [l.Out], problems);
                var mean = Get(weights, $"{bn}/moving_mean", [l.Out], problems);
                var variance = Get(weights, $"{bn}/moving_variance", [l.Out], problems);
                var gamma = Get(weights, $"{bn}/gamma", [l.Out], problems, optional: true); // Keras scale=True variants
                if (problems.Count > before) return Empty(l.Out * l.In * l.Kh * l.Kw, l.Out);
                (s, t) = BatchNorm(gamma, beta, mean, variance);
            }
            if (problems.Count > before) return Empty(l.Out * l.In * l.Kh * l.Kw, l.Out);
            var w = new float[l.Out * l.In * l.Kh * l.Kw];
            for (int y = 0; y < l.Kh; y++)
            for (int x = 0; x < l.Kw; x++)
            for (int i = 0; i < l.In; i++)
            for (int o = 0; o < l.Out; o++)
                w[((o * l.In + i) * l.Kh + y) * l.Kw + x] = k[((y * l.Kw + x) * l.In + i) * l.Out + o] * s[o] * scale;
            return (w, t.Select(v => v * scale).ToArray());
        }

        public override (float[] W, float[] B) FoldedBottleneck(WeightSet weights, int inputs, int outputs, List<string> problems)
        {
            int before = problems.Count;
            var k = Get(weights, "Bottleneck/kernel", [inputs, outputs], problems);
            var beta = Get(weights, "Bottleneck_BatchNorm/beta", [outputs], problems);
            var mean = Get(weights, "Bottleneck_BatchNorm/moving_mean", [outputs], problems);
            var variance = Get(weights, "Bottleneck_BatchNorm/moving_variance", [outputs], problems);
            var gamma = Get(weights, "Bottleneck_BatchNorm/gamma", [outputs], problems, optional: true);
            if (problems.Count > before) return Empty(inputs * outputs, outputs);
            var (s, t) = BatchNorm(gamma, beta, mean, variance);
            var w = new float[inputs * outputs];
            for (int i = 0; i < inputs; i++)
            for (int o = 0; o < outputs; o++)
                w[i * outputs + o] = k[i * outputs + o] * s[o];
            return (w, t);
        }
    }

    private sealed class Torch : WeightLayout
    {
        public static readonly Torch Instance = new();

        public override IEnumerable<(string, int[])> ConvTensors(ConvLayer l)
        {
            if (l.Bias)
            {
                yield return ($"{l.TorchName}.weight", [l.Out, l.In, l.Kh, l.Kw]);
                yield return ($"{l.TorchName}.bias", [l.Out]);
                yield break;
            }
            yield return ($"{l.TorchName}.conv.weight", [l.Out, l.In, l.Kh, l.Kw]);
            foreach (var p in new[] { "weight", "bias", "running_mean", "running_var" }) yield return ($"{l.TorchName}.bn.{p}", [l.Out]);
        }

        public override IEnumerable<(string, int[])> BottleneckTensors(int inputs, int outputs)
        {
            yield return ("last_linear.weight", [outputs, inputs]);
            foreach (var p in new[] { "weight", "bias", "running_mean", "running_var" }) yield return ($"last_bn.{p}", [outputs]);
        }

        public override int? InferEmbeddingSize(WeightSet w) => w.TryGet("last_linear.weight", out var t) && t.Shape.Length == 2 ? t.Shape[0] : null;

        public override (float[] W, float[] B) FoldedConv(WeightSet weights, ConvLayer l, float scale, List<string> problems)
        {
            int before = problems.Count;
            int n = l.Out * l.In * l.Kh * l.Kw;
            float[] k, s, t;
            if (l.Bias)
            {
                k = Get(weights, $"{l.TorchName}.weight", [l.Out, l.In, l.Kh, l.Kw], problems);
                t = Get(weights, $"{l.TorchName}.bias", [l.Out], problems);
                s = Enumerable.Repeat(1f, l.Out).ToArray();
            }
            else
            {
                k = Get(weights, $"{l.TorchName}.conv.weight", [l.Out, l.In, l.Kh, l.Kw], problems);
                var gamma = Get(weights, $"{l.TorchName}.bn.weight", [l.Out], problems);
                var beta = Get(weights, $"{l.TorchName}.bn.bias", [l.Out], problems);
                var mean = Get(weights, $"{l.TorchName}.bn.running_mean", [l.Out], problems);
                var variance = Get(weights, $"{l.TorchName}.bn.running_var", [l.Out], problems);
                if (problems.Count > before) return Empty(n, l.Out);
                (s, t) = BatchNorm(gamma, beta, mean, variance);
            }
            if (problems.Count > before) return Empty(n, l.Out);
            int per = n / l.Out;
            var w = new float[n];
            for (int o = 0; o < l.Out; o++)
            for (int j = 0; j < per; j++)
                w[o * per + j] = k[o * per + j] * s[o] * scale;
            return (w, t.Select(v => v * scale).ToArray());
        }

        public override (float[] W, float[] B) FoldedBottleneck(WeightSet weights, int inputs, int outputs, List<string> problems)
        {
            int before = problems.Count;
            var k = Get(weights, "last_linear.weight", [outputs, inputs], problems);
            var gamma = Get(weights, "last_bn.weight", [outputs], problems);
            var beta = Get(weights, "last_bn.bias", [outputs], problems);
            var mean = Get(weights, "last_bn.running_mean", [outputs], problems);
            var variance = Get(weights, "last_bn.running_var", [outputs], problems);
            if (problems.Count > before) return Empty(inputs * outputs, outputs);
            var (s, t) = BatchNorm(gamma, beta, mean, variance);
            var w = new float[inputs * outputs];
            for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
                w[i * outputs + o] = k[o * inputs + i] * s[o];
            return (w, t);
        }
    }
}
