using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FaceNet.Matching;

/// <summary>
/// The low end of a model's distribution of distances between different people: for false-accept rates
/// from 1e-2 down to what the data supports, the distance threshold that gives that rate. Identification
/// needs it, because a stranger searching a gallery of N is compared N times: to keep the chance that any
/// of them passes (FPIR) at a target, each comparison must pass with only 1 − (1 − FPIR)^(1/N).
/// </summary>
public sealed record ImpostorTail(IReadOnlyList<TailPoint> Points, long Pairs, string Source)
{
    /// <summary>Rates a table is made for: 1e-2, 5e-3, 2e-3, 1e-3, … as far down as the pairs support.</summary>
    public static IEnumerable<double> StandardRates()
    {
        for (int e = 2; e <= 9; e++)
            foreach (var m in new[] { 1.0, 0.5, 0.2 })
                yield return m * Math.Pow(10, -e);
    }

    /// <summary>
    /// The table of a sample of different-person distances: each standard rate that leaves at least
    /// <paramref name="minPairs"/> pairs below its threshold (fewer would be noise).
    /// </summary>
    public static ImpostorTail FromDistances(ReadOnlySpan<double> impostors, string source, int minPairs = 5)
    {
        if (impostors.Length == 0) throw new ArgumentException("no different-person pairs to make an impostor tail of");
        var sorted = impostors.ToArray();
        Array.Sort(sorted);
        var points = new List<TailPoint>();
        foreach (var far in StandardRates())
        {
            long k = (long)Math.Floor(far * sorted.Length + 1e-9);
            if (k < minPairs) break;
            // the largest threshold that lets at most k pairs through: halfway between the k-th and the next
            double t = k < sorted.Length ? (sorted[k - 1] + sorted[k]) / 2 : sorted[^1];
            points.Add(new TailPoint(far, Math.Round(t, 6), k));
        }
        if (points.Count == 0) throw new ArgumentException($"{sorted.Length} different-person pairs are too few for a FAR of 1e-2 (at least {100 * minPairs} are needed)");
        return new ImpostorTail(points, sorted.Length, source);
    }

    /// <summary>The smallest rate the table was measured at.</summary>
    public double SmallestFar => Points[^1].Far;

    /// <summary>
    /// The threshold for a per-comparison false-accept rate, interpolated linearly in log(FAR) between the
    /// table's points; below the table's smallest rate the last segment is extended (and
    /// <paramref name="extrapolated"/> says so); above 1e-2 the threshold of 1e-2 is returned.
    /// </summary>
    public double ThresholdAt(double far, out bool extrapolated)
    {
        if (!(far > 0)) throw new ArgumentOutOfRangeException(nameof(far), "a false-accept rate must be positive");
        extrapolated = far < SmallestFar * (1 - 1e-9);
        if (Points.Count == 1 || far >= Points[0].Far) return Points[0].Threshold;
        int i = 0;
        while (i < Points.Count - 2 && far < Points[i + 1].Far) i++;
        var (a, b) = (Points[i], Points[i + 1]);
        double u = (Math.Log(far) - Math.Log(a.Far)) / (Math.Log(b.Far) - Math.Log(a.Far));
        double t = a.Threshold + u * (b.Threshold - a.Threshold);
        return Math.Max(0, t);
    }

    /// <summary>
    /// The per-comparison rate that keeps the chance of at least one false match in
    /// <paramref name="comparisons"/> independent comparisons at <paramref name="fpir"/>: 1 − (1 − FPIR)^(1/N).
    /// </summary>
    public static double PerComparisonRate(double fpir, long comparisons)
    {
        if (!(fpir > 0 && fpir < 1)) throw new ArgumentOutOfRangeException(nameof(fpir), "the target FPIR must lie between 0 and 1");
        long n = Math.Max(1, comparisons);
        return -double.ExpM1(double.LogP1(-fpir) / n);
    }

    // ----- as model metadata: {"pairs":N,"source":"…","points":[[far,threshold,pairs],…]} -----

    public string ToJson() => ToNode().ToJsonString();

    public JsonObject ToNode() => new()
    {
        ["pairs"] = Pairs,
        ["source"] = Source,
        ["points"] = new JsonArray(Points.Select(p => (JsonNode)new JsonArray(p.Far, p.Threshold, p.Pairs)).ToArray()),
    };

    /// <summary>Reads <see cref="ToJson"/>'s form; <see cref="FormatException"/> names what is wrong.</summary>
    public static ImpostorTail Parse(string json)
    {
        try { return FromNode(JsonNode.Parse(json) ?? throw new FormatException("empty")); }
        catch (JsonException e) { throw new FormatException("impostor tail: " + e.Message, e); }
    }

    public static ImpostorTail FromNode(JsonNode node)
    {
        try
        {
            var points = (node["points"]?.AsArray() ?? throw new FormatException("impostor tail: no points"))
                .Select(p => p!.AsArray()).Select(p => new TailPoint(p[0]!.GetValue<double>(), p[1]!.GetValue<double>(),
                    p.Count > 2 ? p[2]!.GetValue<long>() : 0))
                .OrderByDescending(p => p.Far).ToList();
            if (points.Count == 0) throw new FormatException("impostor tail: no points");
            if (points.Any(p => !(p.Far > 0 && p.Far < 1) || !double.IsFinite(p.Threshold)))
                throw new FormatException("impostor tail: every point needs a rate between 0 and 1 and a finite threshold");
            return new ImpostorTail(points, node["pairs"]?.GetValue<long>() ?? 0, node["source"]?.GetValue<string>() ?? "");
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new FormatException("impostor tail: " + e.Message, e);
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"impostor tail of {Pairs:N0} pairs down to FAR {SmallestFar:G2} ({Source})");
}
