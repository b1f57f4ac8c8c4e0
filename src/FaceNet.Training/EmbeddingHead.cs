using FaceNet.Embedding;

namespace FaceNet.Training;

/// <summary>
/// The trainable head and its gradients, written out by hand (no training framework exists for .NET here).
/// Its input x is the base model's unit embedding; its output the unit embedding the triplet loss sees.
/// Parameters live in one flat array so Adam and the finite-difference check treat them alike.
/// </summary>
public sealed class EmbeddingHead
{
    public HeadKind Kind { get; }
    public int InputSize { get; }
    public int OutputSize { get; }
    public int HiddenSize { get; }

    /// <summary>All parameters: Linear [W (D×E), b (D)]; Residual [W₁ (H×E), b₁ (H), W₂ (E×H), b₂ (E)].</summary>
    public float[] Parameters { get; }

    public EmbeddingHead(HeadKind kind, int inputSize, int outputSize, int seed)
    {
        Kind = kind;
        InputSize = inputSize;
        OutputSize = kind == HeadKind.Residual ? inputSize : outputSize;
        HiddenSize = kind == HeadKind.Residual ? inputSize : 0;
        var rng = new Random(seed);
        if (kind == HeadKind.Linear)
        {
            Parameters = new float[OutputSize * InputSize + OutputSize];
            // start as the base embedding (identity, or a random orthogonal-ish projection to another size)
            for (int o = 0; o < OutputSize; o++)
                for (int i = 0; i < InputSize; i++)
                    Parameters[o * InputSize + i] = OutputSize == InputSize ? (o == i ? 1f : 0f) : (float)(Gaussian(rng) / Math.Sqrt(OutputSize));
        }
        else
        {
            int h = HiddenSize, e = InputSize;
            Parameters = new float[h * e + h + e * h + e];
            double scale = Math.Sqrt(2.0 / e);
            for (int k = 0; k < h * e; k++) Parameters[k] = (float)(Gaussian(rng) * scale);
            // W₂ = 0: the head starts as the base embedding and learns a correction
        }
    }

    internal EmbeddingHead(HeadKind kind, int inputSize, int outputSize, float[] parameters) : this(kind, inputSize, outputSize, 0)
        => Array.Copy(parameters, Parameters, Parameters.Length);

    /// <summary>What the forward pass keeps for the backward pass.</summary>
    public sealed class Pass
    {
        internal float[] X = [], Hidden = [], Z = [], U = [];
        internal float Norm;
        public ReadOnlySpan<float> Output => U;
    }

    public Pass Forward(ReadOnlySpan<float> x)
    {
        var p = new Pass { X = x.ToArray(), Z = new float[OutputSize] };
        var w = Parameters;
        if (Kind == HeadKind.Linear)
        {
            int e = InputSize, bOff = OutputSize * e;
            for (int o = 0; o < OutputSize; o++)
            {
                double s = w[bOff + o];
                for (int i = 0; i < e; i++) s += w[o * e + i] * x[i];
                p.Z[o] = (float)s;
            }
        }
        else
        {
            int e = InputSize, h = HiddenSize, b1 = h * e, w2 = b1 + h, b2 = w2 + e * h;
            p.Hidden = new float[h];
            for (int j = 0; j < h; j++)
            {
                double s = w[b1 + j];
                for (int i = 0; i < e; i++) s += w[j * e + i] * x[i];
                p.Hidden[j] = (float)Math.Max(0, s);
            }
            for (int o = 0; o < e; o++)
            {
                double s = x[o] + w[b2 + o];
                for (int j = 0; j < h; j++) s += w[w2 + o * h + j] * p.Hidden[j];
                p.Z[o] = (float)s;
            }
        }
        double n = 0;
        foreach (var v in p.Z) n += v * (double)v;
        p.Norm = (float)Math.Max(Math.Sqrt(n), 1e-12);
        p.U = p.Z.Select(v => v / p.Norm).ToArray();
        return p;
    }

    /// <summary>Adds dLoss/dParameters to <paramref name="grad"/>, given dLoss/dOutput of one pass.</summary>
    public void Backward(Pass p, ReadOnlySpan<float> dU, float[] grad)
    {
        // through u = z/‖z‖: dz = (dU − u (u·dU)) / ‖z‖
        double dot = 0;
        for (int i = 0; i < OutputSize; i++) dot += p.U[i] * dU[i];
        var dz = new float[OutputSize];
        for (int i = 0; i < OutputSize; i++) dz[i] = (float)((dU[i] - p.U[i] * dot) / p.Norm);
        var w = Parameters;
        if (Kind == HeadKind.Linear)
        {
            int e = InputSize, bOff = OutputSize * e;
            for (int o = 0; o < OutputSize; o++)
            {
                for (int i = 0; i < e; i++) grad[o * e + i] += dz[o] * p.X[i];
                grad[bOff + o] += dz[o];
            }
        }
        else
        {
            int e = InputSize, h = HiddenSize, b1 = h * e, w2 = b1 + h, b2 = w2 + e * h;
            var dh = new float[h];
            for (int o = 0; o < e; o++)
            {
                grad[b2 + o] += dz[o];
                for (int j = 0; j < h; j++)
                {
                    grad[w2 + o * h + j] += dz[o] * p.Hidden[j];
                    dh[j] += dz[o] * w[w2 + o * h + j];
                }
            }
            for (int j = 0; j < h; j++)
            {
                if (p.Hidden[j] <= 0) continue; // relu
                grad[b1 + j] += dh[j];
                for (int i = 0; i < e; i++) grad[j * e + i] += dh[j] * p.X[i];
            }
        }
    }

    /// <summary>The unit output for one base embedding.</summary>
    public float[] Apply(ReadOnlySpan<float> x) => Forward(x).U;

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
