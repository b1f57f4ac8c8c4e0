using System.Numerics.Tensors;

namespace FaceNet.Matching;

/// <summary>How two embeddings' distance is measured: Euclidean on unit vectors (the seed's, 0–2) or cosine (1 − cos θ, 0–2).</summary>
public enum Metric { Euclidean, Cosine }

public static class Metrics
{
    /// <summary>The metric's name as model files and JSON write it: <c>euclidean</c> or <c>cosine</c>.</summary>
    public static string Name(this Metric metric) => metric == Metric.Cosine ? "cosine" : "euclidean";

    /// <summary>Reads a metric's name (<c>euclidean</c>, <c>l2</c> or <c>cosine</c>, any case).</summary>
    public static Metric Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "euclidean" or "l2" => Metric.Euclidean,
        "cosine" => Metric.Cosine,
        _ => throw new FormatException($"unknown metric '{name}' (euclidean or cosine)"),
    };
}

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

/// <summary>A 1:1 verification result: the distance, the threshold it was held against, and the verdict.</summary>
public sealed record Verification(double Distance, double Threshold, Metric Metric)
{
    /// <summary>Same person when the distance does not exceed the threshold.</summary>
    public bool Same => Distance <= Threshold;

    /// <summary>The faces compared, when photos were compared (<see cref="FaceRecognizer.Compare(string, string, FacePick)"/>).</summary>
    public FaceEmbedding? A { get; init; }
    public FaceEmbedding? B { get; init; }

    /// <summary>
    /// How far apart the two faces' yaws are, in degrees, when both poses are known: the pose-aware rule chose
    /// <see cref="Threshold"/> for it (<see cref="Models.ModelInfo.ThresholdFor"/>).
    /// </summary>
    public double? PoseDifference { get; init; }

    /// <summary>How many faces each photo holds: more than one means a choice was made (see <see cref="FacePick"/>).</summary>
    public int FacesInA { get; init; }
    public int FacesInB { get; init; }
}

/// <summary>Decides "same person" from two embeddings under a metric and threshold.</summary>
public sealed class Verifier(Metric metric, double threshold)
{
    public Metric Metric { get; } = metric;
    public double Threshold { get; } = threshold;

    public Verification Verify(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => new(Distance.Of(Metric, a, b), Threshold, Metric);
}
