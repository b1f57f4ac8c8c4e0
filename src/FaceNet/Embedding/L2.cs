using System.Numerics.Tensors;

namespace FaceNet.Embedding;

/// <summary>L2 normalisation as the seed's <c>l2_normalize</c>: x / sqrt(max(Σx², 1e-10)).</summary>
public static class L2
{
    public const double Epsilon = 1e-10;

    public static void NormalizeInPlace(Span<float> v)
    {
        double sumSq = 0;
        foreach (var x in v) sumSq += (double)x * x;
        var inv = (float)(1.0 / Math.Sqrt(Math.Max(sumSq, Epsilon)));
        TensorPrimitives.Multiply(v, inv, v);
    }
}
