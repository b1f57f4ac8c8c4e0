using System.Numerics.Tensors;

namespace FaceNet.Matching;

/// <summary>Distances between embeddings.</summary>
public static class Distance
{
    /// <summary>Euclidean distance, the seed's <c>face_distance</c>; on unit vectors it lies in [0, 2].</summary>
    public static float Euclidean(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"embeddings of different sizes ({a.Length} and {b.Length}) are not comparable");
        return TensorPrimitives.Distance(a, b);
    }

    /// <summary>Cosine distance 1 − cos θ; for unit vectors equal to Euclidean² / 2.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"embeddings of different sizes ({a.Length} and {b.Length}) are not comparable");
        return 1f - TensorPrimitives.CosineSimilarity(a, b);
    }

    /// <summary>The distance under a metric.</summary>
    public static float Of(Metric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b) => metric == Metric.Cosine ? Cosine(a, b) : Euclidean(a, b);
}
