using FaceNet.Models;

namespace FaceNet.Matching;

/// <summary>
/// The threshold an identification used and why: the target FPIR, the number N of impostor comparisons one
/// search makes in the gallery as it is (its faces, or its subjects when a subject's faces are averaged), and the per-comparison false-accept rate 1 − (1 − FPIR)^(1/N) looked up
/// in the impostor tail.
/// </summary>
public sealed record OpenSetThreshold(double Threshold, ThresholdRule Rule, double? Fpir, long Comparisons, double? ComparisonFar, bool Extrapolated)
{
    /// <summary>
    /// The gallery's own estimate, when it had enough subjects: the distance that the FPIR share of its
    /// subjects (as strangers to the rest) come within of another subject. The threshold is the stricter of
    /// it and the model's tail.
    /// </summary>
    public double? GalleryThreshold { get; init; }

    /// <summary>Subjects the gallery's estimate was measured on.</summary>
    public int GallerySample { get; init; }

    /// <summary>
    /// Holds the threshold to the gallery's own estimate (the FPIR quantile of <paramref name="nearest"/>, each
    /// sampled subject's distance to its nearest other subject, ascending) when the sample has at least five
    /// subjects inside the target share; else unchanged.
    /// </summary>
    public OpenSetThreshold WithGallery(IReadOnlyList<double> nearest)
    {
        if (Rule != ThresholdRule.Fpir || Fpir is not { } fpir) return this;
        int k = (int)Math.Floor(fpir * nearest.Count + 1e-9);
        if (k < MinGallerySubjectsInside || k >= nearest.Count) return this;
        double t = (nearest[k - 1] + nearest[k]) / 2;
        return this with { Threshold = Math.Min(Threshold, t), GalleryThreshold = t, GallerySample = nearest.Count };
    }

    /// <summary>
    /// Whether a gallery of <paramref name="subjects"/> can hold this threshold to its own people: the FPIR rule,
    /// and enough of its sample (at most <see cref="GallerySampleSize"/>) inside the target share for
    /// <see cref="WithGallery"/> to count; else sampling it is wasted work.
    /// </summary>
    public bool CanUseGallery(int subjects)
        => Rule == ThresholdRule.Fpir && Fpir is { } fpir && Math.Floor(fpir * Math.Min(subjects, GallerySampleSize) + 1e-9) >= MinGallerySubjectsInside;

    /// <summary>Subjects a gallery samples for its own estimate.</summary>
    public const int GallerySampleSize = 2000;

    /// <summary>Subjects of the gallery's sample that must lie inside the target share for its estimate to count.</summary>
    public const int MinGallerySubjectsInside = 5;

    /// <summary>The default target: 1 % of searches by people who are not enrolled may return a name.</summary>
    public const double DefaultFpir = 0.01;

    /// <summary>
    /// The threshold for a search that makes <paramref name="comparisons"/> impostor comparisons: the one
    /// given, else the FPIR rule on the model's tail, else (a model without a tail) the 1:1 threshold, never
    /// looser than it.
    /// </summary>
    public static OpenSetThreshold For(ModelInfo model, long comparisons, double fpir = DefaultFpir, double? given = null)
    {
        if (given is { } t0) return new(t0, ThresholdRule.Given, null, comparisons, null, false);
        if (model.ImpostorTail is not { } tail) return new(model.Threshold, ThresholdRule.Verification, null, comparisons, null, false);
        double rate = ImpostorTail.PerComparisonRate(fpir, comparisons);
        double t = tail.ThresholdAt(rate, out bool extrapolated);
        // a tiny gallery would allow more than the 1:1 threshold does: the 1:1 decision still holds there
        return new(Math.Min(t, model.Threshold), ThresholdRule.Fpir, fpir, comparisons, rate, extrapolated);
    }

    /// <summary>A line for people: what the threshold stands for.</summary>
    public string Describe() => Rule switch
    {
        ThresholdRule.Given => "given by the caller",
        ThresholdRule.Verification => "the model's 1:1 threshold (the model has no impostor tail for an FPIR target)",
        _ => FormattableString.Invariant($"FPIR {Fpir:G3} over {Comparisons:N0} comparisons (per comparison FAR {ComparisonFar:G3}{(Extrapolated ? ", beyond the model's impostor tail: extrapolated" : "")}")
            + (GalleryThreshold is { } g ? FormattableString.Invariant($"; the gallery's own {GallerySample:N0} subjects give {g:F4}{(g <= Threshold + 1e-12 ? ", the stricter" : "")}") : "") + ")",
    };
}
