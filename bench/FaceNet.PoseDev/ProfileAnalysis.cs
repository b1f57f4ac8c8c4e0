using System.Globalization;
using FaceNet.Evaluation;
using FaceNet.Detection;

/// <summary>
/// Offline comparison of ways to match profiles (issue 27, step 3) from <see cref="Features"/> dumps of CFP's development half:
/// each scorer's FP and FF accuracy 10-fold and at band thresholds set on the impostor pairs of the choosing half (people 001–125)
/// at the default model's FAR, reported on both halves (001–125 chooses, 126–250 confirms).
/// </summary>
static class ProfileAnalysis
{
    public const double BaseThreshold = 0.894462, Far = 0.003152;
    public static readonly double[] Edges = [0, 15, 45];

    public delegate double Scorer(Features.Photo a, Features.Photo b);

    public static float[] Avg(float[]? a, float[]? b)
    {
        if (a is null || b is null) return a ?? b ?? throw new InvalidOperationException("no vector");
        var v = new float[a.Length];
        double n = 0;
        for (int i = 0; i < v.Length; i++) { v[i] = a[i] + b[i]; n += v[i] * (double)v[i]; }
        float k = (float)(1 / Math.Sqrt(n));
        for (int i = 0; i < v.Length; i++) v[i] *= k;
        return v;
    }

    public static double Dot(float[] a, float[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * (double)b[i]; return s; }

    public static double YawDiff(Features.Photo a, Features.Photo b) => double.IsNaN(a.Yaw) || double.IsNaN(b.Yaw) ? double.NaN : Math.Abs(Math.Abs(a.Yaw) - Math.Abs(b.Yaw));

    public static int Band(double d) => double.IsNaN(d) ? 0 : d >= 45 ? 2 : d >= 15 ? 1 : 0;

    /// <summary>The member's flip-averaged vector under variant <paramref name="v"/> (falling back to the standard one).</summary>
    public static float[] Vec(Features.Photo p, int member, int v = -1)
    {
        if (v >= 0 && p.Plain[v] is not null) return Avg(p.Plain[v], p.Flipped[v]);
        return Avg(p.Plain[member], p.Flipped[member]);
    }

    public static void Run(string[] args)
    {
        var photos = Features.Read(args[0]);
        string root = args[1];
        var fp = PairsFile.Read(Path.Combine(root, "pairs-FP.csv"), Path.Combine(root, "images"), checkFiles: false);
        var ff = PairsFile.Read(Path.Combine(root, "pairs-FF.csv"), Path.Combine(root, "images"), checkFiles: false);
        string Rel(string f) => Path.GetRelativePath(Path.Combine(root, "images"), f);
        int Person(string rel) => int.Parse(rel[..3], CultureInfo.InvariantCulture);
        var names = Features.Variants.Select(v => v.Name).ToList();
        int V(string n) => names.IndexOf(n);

        var scorers = new List<(string Name, Scorer S)>();
        Scorer Fused(double wm, double wr, int vm = -1, int vr = -1, double gate = 999) => (a, b) =>
        {
            if (!a.Found || !b.Found) return double.PositiveInfinity;
            bool ta = Math.Abs(a.Yaw) >= gate, tb = Math.Abs(b.Yaw) >= gate;
            double cm = Dot(Vec(a, 0, ta ? vm : -1), Vec(b, 0, tb ? vm : -1)), cr = Dot(Vec(a, 1, ta ? vr : -1), Vec(b, 1, tb ? vr : -1));
            double s = (wm * cm + wr * cr) / (wm + wr);
            return Math.Sqrt(Math.Max(0, 2 - 2 * s));
        };
        Scorer ByBand(double[] alpha, int vm = -1, int vr = -1, double gate = 999) => (a, b) =>
            Fused(alpha[Band(YawDiff(a, b))], 1 - alpha[Band(YawDiff(a, b))], vm, vr, gate)(a, b);
        Scorer ByMaxYaw(Func<double, double> alpha, int vm = -1, int vr = -1, double gate = 999) => (a, b) =>
        {
            double y = Math.Max(double.IsNaN(a.Yaw) ? 0 : Math.Abs(a.Yaw), double.IsNaN(b.Yaw) ? 0 : Math.Abs(b.Yaw));
            double al = alpha(y);
            return Fused(al, 1 - al, vm, vr, gate)(a, b);
        };

        scorers.Add(("fused (default)", Fused(1, 1)));
        bool learnedOnly = args.Length > 2 && args[2] == "learned";
        bool extraMode = args.Length > 3 && args[2] == "extra";
        if (extraMode)
        {
            // a third network (features-extra): fusion weights (MobileFaceNet, ResNet, third), every band's threshold set on half A
            var extra = Features.ReadExtra(args[3]);
            learnedOnly = true;
            scorers.Clear();
            float[]? X(Features.Photo p) => extra.TryGetValue(p.File, out var e) && e.A is not null ? Avg(e.A, e.B) : null;
            Scorer Three(double wm, double wr, double wx) => (a, b) =>
            {
                if (!a.Found || !b.Found) return double.PositiveInfinity;
                var xa = X(a); var xb = X(b);
                if (xa is null || xb is null) return double.PositiveInfinity;
                double sim = (wm * Dot(Vec(a, 0), Vec(b, 0)) + wr * Dot(Vec(a, 1), Vec(b, 1)) + wx * Dot(xa, xb)) / (wm + wr + wx);
                return Math.Sqrt(Math.Max(0, 2 - 2 * sim));
            };
            foreach (var (wm, wr, wx) in new[] { (1.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 0.5), (1.0, 1.0, 2.0), (0.5, 1.0, 1.0), (0.0, 1.0, 1.0), (1.0, 2.0, 1.0), (0.5, 1.0, 0.5) })
                scorers.Add(($"weights M {wm} R {wr} X {wx}", Three(wm, wr, wx)));
        }
        if (learnedOnly && !extraMode) scorers.Clear();
        int keep = scorers.Count;
        // learned on half A (people 001-125): the within-person frontal-minus-profile differences of the fused vector
        var fusedOf = new Dictionary<Features.Photo, float[]>();
        float[] FusedVec(Features.Photo p)
        {
            lock (fusedOf)
                if (fusedOf.TryGetValue(p, out var v)) return v;
            var m = Vec(p, 0); var r = Vec(p, 1);
            var f = m.Concat(r).Select(x => x / MathF.Sqrt(2)).ToArray();
            lock (fusedOf) fusedOf[p] = f;
            return f;
        }
        var diffs = new List<double[]>();
        foreach (var g in photos.Values.Where(p => p.Found && int.Parse(p.File[..3], CultureInfo.InvariantCulture) <= 125).GroupBy(p => p.File[..3]))
        {
            var fr = g.Where(p => p.File.Contains("/frontal/")).Select(FusedVec).ToList();
            if (fr.Count == 0) continue;
            var mean = new double[256];
            foreach (var v in fr) for (int i = 0; i < 256; i++) mean[i] += v[i] / fr.Count;
            foreach (var p in g.Where(p => p.File.Contains("/profile/")))
            {
                var v = FusedVec(p);
                diffs.Add(Enumerable.Range(0, 256).Select(i => mean[i] - v[i]).ToArray());
            }
        }
        var c = Enumerable.Range(0, 256).Select(i => diffs.Average(d => d[i])).ToArray();
        var basis = Pca(diffs, 32);
        Console.WriteLine($"learned from {diffs.Count} profile photos; |c| {Math.Sqrt(c.Sum(x => x * x)):F3}");
        float[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => (float)(x / n)).ToArray(); }
        Scorer Learned(Func<Features.Photo, float[]> map) => (a, b) =>
            !a.Found || !b.Found ? double.PositiveInfinity : Math.Sqrt(Math.Max(0, 2 - 2 * Dot(map(a), map(b))));
        double Ramp(Features.Photo p, double lo, double hi) => double.IsNaN(p.Yaw) ? 0 : Math.Clamp((Math.Abs(p.Yaw) - lo) / (hi - lo), 0, 1);
        foreach (var beta in new[] { 0.5, 1.0, 1.5 })
            foreach (var (lo, hi) in new[] { (25.0, 45.0), (35.0, 55.0) })
                scorers.Add(($"shift profiles by {beta}·c, ramp {lo}-{hi}°", Learned(p =>
                {
                    var v = FusedVec(p); double k = beta * Ramp(p, lo, hi);
                    return Unit(Enumerable.Range(0, 256).Select(i => v[i] + k * c[i]).ToArray());
                })));
        foreach (var k in new[] { 1, 2, 4, 8, 16, 32 })
        {
            scorers.Add(($"project out {k} pose directions (all faces)", Learned(p => Unit(Project(FusedVec(p), basis, k, 1)))));
            scorers.Add(($"project out {k} pose directions, ramp 25-45°", Learned(p => Unit(Project(FusedVec(p), basis, k, Ramp(p, 25, 45))))));
            scorers.Add(($"shift 1·c + project out {k}, ramp 25-45°", Learned(p =>
            {
                var v = FusedVec(p); double r = Ramp(p, 25, 45);
                return Unit(Project(Enumerable.Range(0, 256).Select(i => (float)(v[i] + r * c[i])).ToArray(), basis, k, r));
            })));
        }
        if (extraMode) scorers.RemoveRange(keep, scorers.Count - keep);
        else if (learnedOnly) { }
        else {
        scorers.Add(("M only", Fused(1, 0)));
        scorers.Add(("R only", Fused(0, 1)));
        foreach (var alt in new[] { "yaw", "yaw13", "yaw13s", "2pt" })
        {
            scorers.Add(($"M only, {alt} ≥25", Fused(1, 0, V("M-" + alt), V("R-" + alt), 25)));
            scorers.Add(($"R only, {alt} ≥25", Fused(0, 1, V("M-" + alt), V("R-" + alt), 25)));
            scorers.Add(($"fused, {alt} ≥25", Fused(1, 1, V("M-" + alt), V("R-" + alt), 25)));
            scorers.Add(($"fused, {alt} ≥40", Fused(1, 1, V("M-" + alt), V("R-" + alt), 40)));
        }
        foreach (var a2 in new[] { 0.4, 0.3, 0.2, 0.1, 0.0 })
            foreach (var a1 in new[] { 0.5, 0.4, 0.3 })
                scorers.Add(($"bands α(M) 0.5/{a1}/{a2}", ByBand([0.5, a1, a2])));
        foreach (var lo in new[] { 20.0, 30.0, 40.0 })
            foreach (var end in new[] { 0.0, 0.2 })
                scorers.Add(($"α(max|yaw|) 0.5 → {end} from {lo}° to {lo + 20}°", ByMaxYaw(y => y <= lo ? 0.5 : y >= lo + 20 ? end : 0.5 + (end - 0.5) * (y - lo) / 20)));

        }
        var files = photos.Keys.Where(k => photos[k].Found).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var person = files.Select(Person).ToArray();
        Console.WriteLine("scorer | FP 10-fold all | FP @thr A / B | FF @thr A / B | thresholds 15-45 / 45+ (on A)");
        foreach (var (name, s) in scorers)
        {
            // band thresholds at the default FAR from impostor pairs of half A (people 1-125)
            var imp = new List<double>[3] { [], [], [] };
            var a = files.Where((f, i) => person[i] <= 125).Select(f => photos[f]).ToArray();
            var pa = a.Select(p => Person(p.File)).ToArray();
            for (int i = 0; i < a.Length; i++)
                for (int j = i + 1; j < a.Length; j++)
                    if (pa[i] != pa[j]) imp[Band(YawDiff(a[i], a[j]))].Add(s(a[i], a[j]));
            var thr = new double[3];
            thr[0] = BaseThreshold;
            imp[0].Sort();
            double thr0 = imp[0][(int)(Far * imp[0].Count)];
            if (learnedOnly) thr[0] = thr0;
            for (int b = 1; b < 3; b++)
            {
                imp[b].Sort();
                thr[b] = imp[b].Count == 0 ? BaseThreshold : imp[b][(int)(Far * imp[b].Count)];
            }
            string Eval(List<LabeledPair> pairs, bool tenFold)
            {
                var d = pairs.Select(p => s(photos[Rel(p.FileA)], photos[Rel(p.FileB)])).ToArray();
                var t = pairs.Select(p => thr[Band(YawDiff(photos[Rel(p.FileA)], photos[Rel(p.FileB)]))]).ToArray();
                var same = pairs.Select(p => p.Same).ToArray();
                var A = Enumerable.Range(0, pairs.Count).Where(i => Person(Rel(pairs[i].FileA)) <= 125).ToList();
                var B = Enumerable.Range(0, pairs.Count).Where(i => Person(Rel(pairs[i].FileA)) > 125).ToList();
                var (accA, _, _) = PoseBands.At(d, same, t, A);
                var (accB, farB, frrB) = PoseBands.At(d, same, t, B);
                string ten = tenFold ? Protocol.Evaluate(d, same, pairs.Select(p => p.Fold).ToArray()).Accuracy.ToString("F4", CultureInfo.InvariantCulture) + " | " : "";
                return ten + string.Create(CultureInfo.InvariantCulture, $"{accA:F4} / {accB:F4} (B far {farB:F4} frr {frrB:F3})");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} | {Eval(fp, true)} | {Eval(ff, false)} | {thr[1]:F4} / {thr[2]:F4} (0-15 at the FAR on A: {thr0:F4})"));
        }
    }

    static double[] Project(float[] v, List<double[]> basis, int k, double amount)
    {
        var x = v.Select(f => (double)f).ToArray();
        if (amount <= 0) return x;
        for (int j = 0; j < k && j < basis.Count; j++)
        {
            double d = 0; for (int i = 0; i < x.Length; i++) d += x[i] * basis[j][i];
            for (int i = 0; i < x.Length; i++) x[i] -= amount * d * basis[j][i];
        }
        return x;
    }

    /// <summary>The top <paramref name="k"/> principal directions (uncentred: second moments) of the vectors, by power iteration with deflation.</summary>
    static List<double[]> Pca(List<double[]> vectors, int k)
    {
        int n = vectors[0].Length;
        var cov = new double[n, n];
        foreach (var v in vectors) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) cov[i, j] += v[i] * v[j];
        var result = new List<double[]>();
        var rng = new Random(1);
        for (int c = 0; c < k; c++)
        {
            var x = Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
            for (int it = 0; it < 300; it++)
            {
                var y = new double[n];
                for (int i = 0; i < n; i++) { double s = 0; for (int j = 0; j < n; j++) s += cov[i, j] * x[j]; y[i] = s; }
                foreach (var b in result) { double d = 0; for (int i = 0; i < n; i++) d += y[i] * b[i]; for (int i = 0; i < n; i++) y[i] -= d * b[i]; }
                double norm = Math.Sqrt(y.Sum(z => z * z));
                x = y.Select(z => z / norm).ToArray();
            }
            result.Add(x);
        }
        return result;
    }
}
