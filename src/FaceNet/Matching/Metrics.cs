namespace FaceNet.Matching;

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
