using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Evaluation;

/// <summary>
/// Verification by band of pose difference (|yaw a − yaw b|, <see cref="Detection.HeadPose"/>): how the decision at the model's
/// thresholds fares on turned pairs, and each pair's threshold under the model's pose-aware rule
/// (<see cref="ModelInfo.ThresholdFor"/>).
/// </summary>
public static class PoseBands
{
    /// <summary>Each pair's threshold under the model's rule (its own threshold where a pose is unknown).</summary>
    public static double[] Thresholds(EvaluationReport report, ModelInfo model)
        => Enumerable.Range(0, report.Distances.Length)
            .Select(i => model.ThresholdFor(i < report.PoseDifferences.Length && double.IsFinite(report.PoseDifferences[i]) ? report.PoseDifferences[i] : null))
            .ToArray();

    /// <summary>Accuracy, FAR and FRR when each pair is held to its own threshold.</summary>
    public static (double Accuracy, double Far, double Frr) At(IReadOnlyList<double> distances, IReadOnlyList<bool> same, IReadOnlyList<double> thresholds,
        IEnumerable<int>? pairs = null)
    {
        int n = 0, correct = 0, fa = 0, neg = 0, fr = 0, pos = 0;
        foreach (var i in pairs ?? Enumerable.Range(0, distances.Count))
        {
            bool accept = distances[i] <= thresholds[i];
            n++;
            if (accept == same[i]) correct++;
            if (same[i]) { pos++; if (!accept) fr++; }
            else { neg++; if (accept) fa++; }
        }
        return (n == 0 ? double.NaN : (double)correct / n, neg == 0 ? double.NaN : (double)fa / neg, pos == 0 ? double.NaN : (double)fr / pos);
    }

    /// <summary>The pairs by band (<paramref name="edges"/>: the bands' starts in degrees, default 0, 15, 45), each at its thresholds.</summary>
    public static IReadOnlyList<PoseBandResult> Breakdown(EvaluationReport report, IReadOnlyList<double> thresholds, IReadOnlyList<double>? edges = null)
    {
        edges ??= PoseThresholds.StandardEdges;
        var result = new List<PoseBandResult>();
        for (int b = -1; b < edges.Count; b++)
        {
            var idx = Enumerable.Range(0, report.Distances.Length).Where(i =>
            {
                double d = i < report.PoseDifferences.Length ? report.PoseDifferences[i] : double.NaN;
                if (b < 0) return !double.IsFinite(d);
                return double.IsFinite(d) && d >= edges[b] && (b + 1 >= edges.Count || d < edges[b + 1]);
            }).ToList();
            if (idx.Count == 0) continue;
            var (acc, far, frr) = At(report.Distances, report.Same, thresholds, idx);
            string name = b < 0 ? "unknown" : b + 1 < edges.Count ? FormattableString.Invariant($"{edges[b]:G}–{edges[b + 1]:G}°") : FormattableString.Invariant($"{edges[b]:G}°+");
            result.Add(new PoseBandResult(name, idx.Count(i => report.Same[i]), idx.Count(i => !report.Same[i]), acc, far, frr, idx.Average(i => thresholds[i])));
        }
        return result;
    }
}
