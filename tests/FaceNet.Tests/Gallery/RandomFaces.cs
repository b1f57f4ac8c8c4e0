using FaceNet.Embedding;

namespace FaceNet.Tests.Gallery;

/// <summary>Synthetic embeddings: uniform points on the unit sphere, and noisy copies of them (same person).</summary>
internal static class RandomFaces
{
    public static float[] Unit(Random r, int dim = 128)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++) v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        L2.NormalizeInPlace(v);
        return v;
    }

    public static float[] Near(float[] c, Random r, float noise)
    {
        var n = Unit(r, c.Length);
        var v = c.Select((x, i) => x + noise * n[i]).ToArray();
        L2.NormalizeInPlace(v);
        return v;
    }
}
