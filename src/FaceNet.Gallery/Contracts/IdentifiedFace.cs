using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record IdentifiedFace(int[] Box, float Score, double? Quality, string? Name, bool Known, double? Distance,
    double Threshold, string ThresholdRule, double? Fpir, long Comparisons,
    double? ComparisonFar, IReadOnlyList<CandidateJson> Candidates)
{
    /// <summary>One face's answer.</summary>
    public static IdentifiedFace Of(DetectedFace face, Identification id)
    {
        var rule = id.Rule!;
        return new(face.Box.ToArray(), face.Score, face.Quality?.Score, id.Name, id.Known, double.IsFinite(id.Distance) ? Math.Round(id.Distance, 6) : null,
            Math.Round(id.Threshold, 6), RuleName(rule.Rule), rule.Fpir, rule.Comparisons, rule.ComparisonFar,
            id.Candidates.Select(c => new CandidateJson(c.Name, Math.Round(c.Distance, 6), double.IsFinite(c.Threshold) ? Math.Round(c.Threshold, 6) : null)).ToList());
    }

    /// <summary>How a threshold was chosen, as JSON names it: <c>fpir</c>, <c>given</c> or <c>verification</c>.</summary>
    public static string RuleName(ThresholdRule rule) => rule.ToString().ToLowerInvariant();
}
