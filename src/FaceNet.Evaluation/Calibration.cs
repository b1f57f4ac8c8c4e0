namespace FaceNet.Evaluation;

/// <summary>
/// Threshold calibration on the user's own data: the distance threshold that gives a target
/// false-accept rate (or false-reject rate), the other rate at that point, and confidence intervals
/// that say how far the figures can be trusted with the number of pairs at hand.
/// </summary>
public static class Calibration
{
    public static CalibrationResult AtFar(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double far)
    {
        if (impostor.Count == 0 || genuine.Count == 0) throw new ArgumentException("calibration needs both same-person and different-person pairs");
        var neg = impostor.Where(double.IsFinite).OrderBy(d => d).ToArray();
        int n = impostor.Count;
        int k = (int)Math.Floor(far * n + 1e-9); // false accepts allowed
        k = Math.Min(k, neg.Length);
        double t = k == 0 ? (neg.Length > 0 ? Below(neg[0]) : double.MaxValue)
            : k < neg.Length ? (neg[k - 1] + neg[k]) / 2 : neg[^1];
        return Measure(genuine, impostor, t, "far", far);
    }

    public static CalibrationResult AtFrr(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double frr)
    {
        if (impostor.Count == 0 || genuine.Count == 0) throw new ArgumentException("calibration needs both same-person and different-person pairs");
        var pos = genuine.OrderBy(d => d).ToArray();
        int keep = (int)Math.Ceiling((1 - frr) * pos.Length - 1e-9); // genuine pairs that must be accepted
        double t = keep <= 0 ? Below(pos[0]) : keep < pos.Length && double.IsFinite(pos[keep]) ? (pos[keep - 1] + pos[keep]) / 2 : pos[keep - 1];
        // Pairs whose face was never found are at +∞ and no threshold accepts them: the FRR cannot go below
        // their share. The threshold that reaches that share is the largest finite genuine distance, not
        // "accept everything".
        if (!double.IsFinite(t)) t = genuine.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        return Measure(genuine, impostor, t, "frr", frr);
    }

    /// <summary>
    /// The accuracy-maximising threshold (half-way between the two distances it separates, as the LFW
    /// protocol chooses it), with the error rates there: the rule the bundled models' thresholds follow.
    /// </summary>
    public static CalibrationResult AtBestAccuracy(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor)
    {
        if (impostor.Count == 0 || genuine.Count == 0) throw new ArgumentException("calibration needs both same-person and different-person pairs");
        var d = genuine.Concat(impostor).ToArray();
        var s = genuine.Select(_ => true).Concat(impostor.Select(_ => false)).ToArray();
        var t = Protocol.BestThreshold(d, s);
        var r = Measure(genuine, impostor, t, "accuracy", 0);
        return r with { TargetRate = 1 - (r.Far * impostor.Count + r.Frr * genuine.Count) / d.Length };
    }

    /// <summary>The error rates at a given threshold.</summary>
    public static CalibrationResult At(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double threshold)
        => Measure(genuine, impostor, threshold, "threshold", threshold);

    private static double Below(double d) => d - Math.Max(1e-6, Math.Abs(d) * 1e-6);

    private static CalibrationResult Measure(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double t, string target, double rate)
    {
        int fa = impostor.Count(d => d <= t), fr = genuine.Count(d => !(d <= t));
        var (farLo, farHi) = Wilson(fa, impostor.Count);
        var (frrLo, frrHi) = Wilson(fr, genuine.Count);
        return new CalibrationResult
        {
            Threshold = t, Target = target, TargetRate = rate,
            Far = (double)fa / impostor.Count, FarLow = farLo, FarHigh = farHi,
            Frr = (double)fr / genuine.Count, FrrLow = frrLo, FrrHigh = frrHi,
            GenuinePairs = genuine.Count, ImpostorPairs = impostor.Count,
            Sufficient = target != "far" || impostor.Count * rate >= 3,
        };
    }

    /// <summary>95% Wilson score interval of a proportion k/n.</summary>
    public static (double Low, double High) Wilson(int k, int n)
    {
        if (n == 0) return (0, 1);
        const double z = 1.959963984540054;
        double p = (double)k / n, z2 = z * z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    /// <summary>The people of a folder of identities (<c>ROOT/person/*.jpg</c>, in name order) with their photos; at least two people.</summary>
    public static List<(string Name, string[] Files)> People(string root)
    {
        var people = Imaging.PeopleFolder.Read(root).Select(p => (p.Name, Files: p.Files.ToArray())).ToList();
        if (people.Count < 2) throw new PairsFileException(root, 0, "needs at least two identity folders (ROOT/person/*.jpg)");
        return people;
    }

    /// <summary>
    /// The impostor tail of the faces of a folder of identities: the distance of every pair of faces of
    /// different people (sampled with a fixed seed above <paramref name="maxPairs"/>), as a table of
    /// thresholds per false-accept rate (<see cref="Matching.ImpostorTail"/>).
    /// </summary>
    public static Matching.ImpostorTail TailFromFolders(Evaluator evaluator, string root, Matching.Metric metric, string source, long maxPairs = 200_000_000)
    {
        var people = People(root);
        var embedded = evaluator.Embed(people.SelectMany(p => p.Files).ToList());
        var faces = people.SelectMany((p, i) => p.Files.Select(f => (Person: i, Vector: embedded.Vectors[f]))).Where(f => f.Vector is not null).ToArray();
        return Matching.ImpostorTail.FromDistances(ImpostorDistances(faces.Select(f => f.Person).ToArray(),
            faces.Select(f => f.Vector!).ToArray(), metric, maxPairs), source);
    }

    /// <summary>
    /// Thresholds per band of pose difference (<see cref="Matching.PoseThresholds"/>) from the faces of folders of identities
    /// (each folder's people distinct from the other folders'): the first band keeps <paramref name="threshold"/>, and each
    /// other band's threshold lets through the same share of that band's different-person pairs as
    /// <paramref name="threshold"/> lets through of the first band's. Every pair of faces of different people is used.
    /// </summary>
    public static Matching.PoseThresholds PoseThresholdsFromFolders(Evaluator evaluator, IReadOnlyList<string> roots, Matching.Metric metric,
        double threshold, string source, IReadOnlyList<double>? edges = null)
    {
        edges ??= Matching.PoseThresholds.StandardEdges;
        var people = roots.SelectMany((root, r) => People(root).Select(p => (Name: $"{r}/{p.Name}", p.Files))).ToList();
        var embedded = evaluator.Embed(people.SelectMany(p => p.Files).ToList());
        var faces = people.SelectMany((p, i) => p.Files.Where(f => embedded.Vectors[f] is not null && embedded.Poses.ContainsKey(f))
            .Select(f => (Person: i, Vector: embedded.Vectors[f]!, Yaw: embedded.Poses[f].Yaw))).ToArray();
        // impostor distances by band, every pair
        var byBand = Enumerable.Range(0, edges.Count).Select(_ => new List<double>()).ToArray();
        var locks = byBand.Select(_ => new object()).ToArray();
        Parallel.For(0, faces.Length, () => Enumerable.Range(0, edges.Count).Select(_ => new List<double>()).ToArray(), (i, _, local) =>
        {
            for (int j = i + 1; j < faces.Length; j++)
            {
                if (faces[j].Person == faces[i].Person) continue;
                double diff = Math.Abs(faces[i].Yaw - faces[j].Yaw);
                int band = 0;
                for (int b = 1; b < edges.Count; b++) if (diff >= edges[b]) band = b;
                local[band].Add(Matching.Distance.Of(metric, faces[i].Vector, faces[j].Vector));
            }
            return local;
        }, local =>
        {
            for (int b = 0; b < local.Length; b++) lock (locks[b]) byBand[b].AddRange(local[b]);
        });
        if (byBand[0].Count == 0) throw new ArgumentException("no different-person pairs of nearly the same pose to set the first band by");
        double far = (double)byBand[0].Count(d => d <= threshold) / byBand[0].Count;
        var bands = new List<Matching.PoseBand> { new(edges[0], threshold, Math.Round(far, 6), byBand[0].Count) };
        for (int b = 1; b < edges.Count; b++)
        {
            var d = byBand[b].ToArray();
            if (d.Length * far < 5) throw new ArgumentException(FormattableString.Invariant(
                $"{d.Length} different-person pairs {edges[b]:G}° or more apart in yaw are too few for a FAR of {far:G3}"));
            var t = Protocol.ThresholdAtFar(d, new bool[d.Length], far);
            bands.Add(new Matching.PoseBand(edges[b], Math.Round(t, 6), Math.Round(far, 6), d.Length));
        }
        return new Matching.PoseThresholds(bands, source);
    }

    /// <summary>Distances of the pairs of faces that belong to different people: all of them, or a seeded sample of <paramref name="maxPairs"/>.</summary>
    public static double[] ImpostorDistances(int[] person, float[][] vectors, Matching.Metric metric, long maxPairs = 200_000_000)
    {
        var counts = person.GroupBy(p => p).Select(g => (long)g.Count()).ToArray();
        long total = (long)person.Length * (person.Length - 1) / 2 - counts.Sum(c => c * (c - 1) / 2);
        if (total <= maxPairs)
        {
            var d = new double[total];
            // rows in parallel: each row i writes its own slice, found from the counts before it
            var rowStart = new long[person.Length + 1];
            for (int i = 0; i < person.Length; i++)
            {
                long n = 0;
                for (int j = i + 1; j < person.Length; j++) if (person[j] != person[i]) n++;
                rowStart[i + 1] = rowStart[i] + n;
            }
            Parallel.For(0, person.Length, i =>
            {
                long at = rowStart[i];
                for (int j = i + 1; j < person.Length; j++)
                    if (person[j] != person[i]) d[at++] = Matching.Distance.Of(metric, vectors[i], vectors[j]);
            });
            return d;
        }
        var rng = new Random(20150312);
        var sample = new double[maxPairs];
        for (long s = 0; s < maxPairs;)
        {
            int i = rng.Next(person.Length), j = rng.Next(person.Length);
            if (person[i] == person[j]) continue;
            sample[s++] = Matching.Distance.Of(metric, vectors[i], vectors[j]);
        }
        return sample;
    }

    /// <summary>
    /// Labelled pairs from a folder of identities (<c>ROOT/person/*.jpg</c>): every pair within a person
    /// is genuine, every pair across people an impostor; above <paramref name="maxImpostors"/> the
    /// impostor pairs are sampled (fixed seed).
    /// </summary>
    public static List<LabeledPair> PairsFromFolders(string root, int maxImpostors = 2_000_000)
    {
        var people = People(root);
        var pairs = new List<LabeledPair>();
        foreach (var p in people)
            for (int i = 0; i < p.Files.Length; i++)
                for (int j = i + 1; j < p.Files.Length; j++)
                    pairs.Add(new LabeledPair(p.Files[i], p.Files[j], true, pairs.Count % 10, 0));
        var all = people.SelectMany((p, pi) => p.Files.Select(f => (Person: pi, File: f))).ToArray();
        long total = 0;
        for (int a = 0; a < people.Count; a++) for (int b = a + 1; b < people.Count; b++) total += (long)people[a].Files.Length * people[b].Files.Length;
        if (total <= maxImpostors)
        {
            for (int i = 0; i < all.Length; i++)
                for (int j = i + 1; j < all.Length; j++)
                    if (all[i].Person != all[j].Person) pairs.Add(new LabeledPair(all[i].File, all[j].File, false, pairs.Count % 10, 0));
        }
        else
        {
            var rng = new Random(20150312);
            var seen = new HashSet<(int, int)>();
            while (seen.Count < maxImpostors)
            {
                int i = rng.Next(all.Length), j = rng.Next(all.Length);
                if (all[i].Person == all[j].Person || !seen.Add((Math.Min(i, j), Math.Max(i, j)))) continue;
                pairs.Add(new LabeledPair(all[i].File, all[j].File, false, pairs.Count % 10, 0));
            }
        }
        if (!pairs.Any(p => p.Same)) throw new PairsFileException(root, 0, "no identity folder holds two images: no same-person pairs");
        return pairs;
    }

}
