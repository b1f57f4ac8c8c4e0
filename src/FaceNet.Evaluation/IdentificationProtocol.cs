using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Evaluation;

/// <summary>
/// Open-set identification measured the way NIST FRVT 1:N does: each enrolled person has one face in the
/// gallery (their first photo), their other photos search it (mated searches), and people kept out of
/// the gallery search it too (non-mated). FNIR is the share of mated searches that do not return the
/// person's own name, FPIR the share of non-mated searches that return any name; both at the threshold
/// chosen afterwards for an FPIR of 1 % and 0.1 %, and at the product's own rule (the model's impostor
/// tail and the gallery's size, never seeing these people). Rank-1 and rank-5 are the closed-set hit rates.
/// </summary>
public static class IdentificationProtocol
{
    public static IReadOnlyList<IdentificationResult> Run(IReadOnlyList<LabeledFace> faces, ModelInfo model, IdentificationOptions? options = null)
    {
        options ??= new IdentificationOptions();
        var people = faces.GroupBy(f => f.Person).Select(g => g.OrderBy(f => f.File, StringComparer.Ordinal).ToArray()).ToArray();
        if (people.Length < 3) throw new ArgumentException("identification needs at least three people");
        var sizes = (options.GallerySizes.Count > 0 ? options.GallerySizes : [100, 1000, 3000, people.Length - Math.Min(people.Length / 4, 1000)])
            .Where(n => n >= 1 && n < people.Length).Distinct().Order().ToList();
        var results = new List<IdentificationResult>();
        foreach (var n in sizes) results.Add(RunSize(people, n, model, options));
        return results;
    }

    private static IdentificationResult RunSize(LabeledFace[][] people, int size, ModelInfo model, IdentificationOptions options)
    {
        var rng = new Random(options.Seed + size);
        // with pose bands every comparison is judged by its margin, distance less its band's offset (the threshold's own share is
        // common to all): a candidate is named when its margin is within the threshold, and ranked by it
        var bands = options.PoseBands ? model.PoseThresholds : null;
        var mated = new List<(double Mate, int Rank)>();   // margin of the mate, rank of the mate (1-based)
        var nonMated = new List<double>();                  // strangers' nearest subject (by margin)
        int draws = 0;
        LabeledFace[]? lastGallery = null;
        while (draws < options.MaxDraws && (draws == 0 || nonMated.Count < options.Strangers))
        {
            draws++;
            var order = Enumerable.Range(0, people.Length).OrderBy(_ => rng.Next()).ToArray();
            var enrolled = order.Take(size).ToArray();
            var chosen = enrolled.Select(p => EnrollmentOf(people[p], options.QualityFloor)).ToArray();
            // a refused person is not in the gallery: strangers are compared with the enrolled ones only
            var gallery = chosen.Where(f => f is not null).Select(f => f!).ToArray();
            var slot = new int[chosen.Length];
            for (int g = 0, k = 0; g < chosen.Length; g++) slot[g] = chosen[g] is null ? -1 : k++;
            lastGallery ??= gallery;
            // mated searches: every other photo of an enrolled person (only in the first draw: the gallery's people are a sample already)
            if (draws == 1)
                for (int g = 0; g < enrolled.Length; g++)
                    foreach (var probe in people[enrolled[g]].Where(f => !ReferenceEquals(f, chosen[g])))
                    {
                        if (slot[g] < 0) { mated.Add((double.PositiveInfinity, int.MaxValue)); continue; } // refused at enrolment: a miss
                        var d = Distances(probe, gallery, model.Metric, bands);
                        double mate = d[slot[g]];
                        mated.Add((mate, 1 + d.Count(x => x < mate)));
                    }
            foreach (var p in order.Skip(size).Take(Math.Max(0, options.Strangers - nonMated.Count)))
                nonMated.Add(Distances(people[p][0], gallery, model.Metric, bands).Min());
        }
        if (mated.Count == 0) throw new ArgumentException("no mated searches: the enrolled people need a second photo each");
        var nm = nonMated.Order().ToArray();
        IdentificationPoint At(double t)
        {
            // a mated search fails unless its mate is nearest and within t
            int misses = mated.Count(m => !(m.Rank == 1 && m.Mate <= t));
            int falsePos = nm.Count(d => d <= t);
            return new IdentificationPoint(t, (double)falsePos / nm.Length, (double)misses / mated.Count);
        }
        double ForFpir(double fpir)
        {
            // the largest threshold with at most fpir·N strangers through (half-way to the next one)
            int k = (int)Math.Floor(fpir * nm.Length + 1e-9);
            if (k == 0) return nm[0] - 1e-6;
            return k < nm.Length ? (nm[k - 1] + nm[k]) / 2 : nm[^1];
        }
        var rule = OpenSetThreshold.For(model, size, options.Fpir);
        if (options.UseGalleryPeople && lastGallery is { } own && rule.CanUseGallery(own.Length))
        {
            // as the gallery does it: each (sampled) subject's nearest other subject, the stricter of that and the model's tail
            var sample = own.Length <= OpenSetThreshold.GallerySampleSize ? own : own.OrderBy(_ => rng.Next()).Take(OpenSetThreshold.GallerySampleSize).ToArray();
            var nearest = sample.Select(f => own.Where(o => !ReferenceEquals(o, f)).Min(o => (double)Distance.Of(model.Metric,
                f.Vector, o.Vector))).Order().ToArray();
            rule = rule.WithGallery(nearest);
        }
        var det = nm.Concat(mated.Select(m => m.Mate)).Where(double.IsFinite).Order().Distinct().Where((_, i) => i % Math.Max(1,
            (nm.Length + mated.Count) / 400) == 0).Select(At).ToList();
        return new IdentificationResult(size, draws, mated.Count, nm.Length,
            (double)mated.Count(m => m.Rank == 1) / mated.Count, (double)mated.Count(m => m.Rank <= 5) / mated.Count,
            At(ForFpir(0.01)), At(ForFpir(0.001)), At(rule.Threshold), rule, det);
    }

    private static LabeledFace? EnrollmentOf(LabeledFace[] photos, double floor)
        => floor > 0 ? photos.FirstOrDefault(f => f.Quality >= floor) : photos[0];

    // each gallery face's distance to the probe, less its pose band's offset when there are bands (as the gallery does: a probe
    // without a yaw puts every face in the first band, a gallery face without one counts as frontal)
    private static double[] Distances(LabeledFace probe, LabeledFace[] gallery, Metric metric, PoseThresholds? bands)
    {
        var d = new double[gallery.Length];
        for (int i = 0; i < gallery.Length; i++)
        {
            d[i] = Distance.Of(metric, probe.Vector, gallery[i].Vector);
            if (bands is not null && probe.Yaw is { } a) d[i] -= bands.Offset(Math.Abs(Math.Abs(a) - Math.Abs(gallery[i].Yaw ?? 0)));
        }
        return d;
    }
}
