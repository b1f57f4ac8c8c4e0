namespace FaceNet.Evaluation;

/// <summary>
/// The LFW protocol as FaceNet and David Sandberg's facenet evaluate: for each of the folds, the
/// accuracy-maximising threshold is chosen on the other folds and applied to it; VAL@FAR with the
/// threshold interpolated on the training folds; plus AUC and EER over all pairs.
/// </summary>
public static class Protocol
{
    public static ProtocolResult Evaluate(IReadOnlyList<double> distances, IReadOnlyList<bool> same, IReadOnlyList<int> folds, double farTarget = 1e-3)
    {
        int n = distances.Count;
        if (n == 0 || same.Count != n || folds.Count != n) throw new ArgumentException("distances, labels and folds must have the same, non-zero length");
        var foldIds = folds.Distinct().OrderBy(f => f).ToArray();
        var accuracies = new List<double>();
        var vals = new List<double>();
        var fars = new List<double>();
        var thresholds = new List<double>();
        foreach (var fold in foldIds)
        {
            var train = Enumerable.Range(0, n).Where(i => folds[i] != fold).ToArray();
            var test = Enumerable.Range(0, n).Where(i => folds[i] == fold).ToArray();
            if (train.Length == 0) train = test; // a single fold: no held-out choice is possible
            double t = BestThreshold(train.Select(i => distances[i]).ToArray(), train.Select(i => same[i]).ToArray());
            thresholds.Add(t);
            accuracies.Add(Accuracy(test, distances, same, t));
            double tv = ThresholdAtFar(train.Select(i => distances[i]).ToArray(), train.Select(i => same[i]).ToArray(), farTarget);
            var (val, far) = ValFar(test, distances, same, tv);
            vals.Add(val);
            fars.Add(far);
        }
        var allD = distances.ToArray();
        var allS = same.ToArray();
        var roc = RocCurve(allD, allS);
        return new ProtocolResult
        {
            Pairs = n,
            Folds = foldIds.Length,
            Accuracy = accuracies.Average(),
            AccuracyStd = Std(accuracies),
            Val = vals.Average(),
            ValStd = Std(vals),
            Far = fars.Average(),
            FarTarget = farTarget,
            Auc = Auc(allD, allS),
            Eer = Eer(roc),
            Threshold = BestThreshold(allD, allS),
            FoldThresholds = thresholds.ToArray(),
            Roc = roc,
        };
    }

    /// <summary>
    /// The threshold maximising accuracy (same ⇔ distance ≤ t), taken half-way between the two
    /// neighbouring distances, so that it generalises symmetrically.
    /// </summary>
    public static double BestThreshold(double[] d, bool[] s)
    {
        var order = Enumerable.Range(0, d.Length).OrderBy(i => d[i]).ToArray();
        int positives = s.Count(x => x);
        // t below every distance: all "different" → correct = number of negatives
        int correct = d.Length - positives, best = correct;
        double bestT = d.Length > 0 ? d[order[0]] - 1e-6 : 0;
        for (int k = 0; k < order.Length; k++)
        {
            correct += s[order[k]] ? 1 : -1;
            // only between distinct values can a threshold separate them
            if (k + 1 < order.Length && d[order[k + 1]] == d[order[k]]) continue;
            if (correct > best)
            {
                best = correct;
                bestT = k + 1 < order.Length && double.IsFinite(d[order[k + 1]]) ? (d[order[k]] + d[order[k + 1]]) / 2 : d[order[k]] + 1e-6;
            }
        }
        return bestT;
    }

    /// <summary>The threshold at which the false-accept rate reaches <paramref name="far"/>, interpolated linearly between distances; 0 when unreachable.</summary>
    public static double ThresholdAtFar(double[] d, bool[] s, double far)
    {
        var neg = d.Where((_, i) => !s[i]).OrderBy(x => x).ToArray();
        if (neg.Length == 0) return d.Length > 0 ? d.Max() : 0;
        // FAR(t) = #(neg ≤ t) / |neg|, a step function; interpolate its corner points (neg[k], (k+1)/|neg|).
        double target = far * neg.Length;
        if (target < 1)
        {
            // fewer impostors than 1/far: the largest threshold keeping FAR below one accept
            double lower = neg[0] - (neg.Length > 1 ? neg[1] - neg[0] : 1e-3);
            return lower + (neg[0] - lower) * target;
        }
        int k = (int)Math.Floor(target) - 1;
        if (k + 1 >= neg.Length || !double.IsFinite(neg[k + 1])) return neg[k];
        return neg[k] + (neg[k + 1] - neg[k]) * (target - (k + 1));
    }

    public static double Accuracy(IEnumerable<int> idx, IReadOnlyList<double> d, IReadOnlyList<bool> s, double t)
    {
        int total = 0, correct = 0;
        foreach (var i in idx) { total++; if ((d[i] <= t) == s[i]) correct++; }
        return total == 0 ? 0 : (double)correct / total;
    }

    private static (double Val, double Far) ValFar(IEnumerable<int> idx, IReadOnlyList<double> d, IReadOnlyList<bool> s, double t)
    {
        int ta = 0, p = 0, fa = 0, q = 0;
        foreach (var i in idx)
        {
            if (s[i]) { p++; if (d[i] <= t) ta++; }
            else { q++; if (d[i] <= t) fa++; }
        }
        return (p == 0 ? 0 : (double)ta / p, q == 0 ? 0 : (double)fa / q);
    }

    /// <summary>Area under the ROC: the probability that a different pair is farther apart than a same pair (ties count half).</summary>
    public static double Auc(double[] d, bool[] s)
    {
        var order = Enumerable.Range(0, d.Length).OrderBy(i => d[i]).ToArray();
        double rankSumPos = 0;
        int pos = 0;
        for (int k = 0; k < order.Length;)
        {
            int j = k;
            while (j + 1 < order.Length && d[order[j + 1]] == d[order[k]]) j++;
            double rank = (k + j) / 2.0 + 1; // average rank of the tie group
            for (int m = k; m <= j; m++) if (s[order[m]]) { rankSumPos += rank; pos++; }
            k = j + 1;
        }
        int neg = d.Length - pos;
        if (pos == 0 || neg == 0) return double.NaN;
        // positives should have the smallest distances: AUC = P(d_pos < d_neg)
        double u = rankSumPos - pos * (pos + 1) / 2.0; // # (neg < pos) pairs
        return 1 - u / ((double)pos * neg);
    }

    /// <summary>ROC points (FAR, TAR, threshold) at every distinct distance, from (0,0) to (1,1).</summary>
    public static (double Far, double Tar, double Threshold)[] RocCurve(double[] d, bool[] s)
    {
        int pos = s.Count(x => x), neg = d.Length - pos;
        var order = Enumerable.Range(0, d.Length).OrderBy(i => d[i]).ToArray();
        var points = new List<(double, double, double)> { (0, 0, order.Length > 0 ? d[order[0]] - 1e-6 : 0) };
        int tp = 0, fp = 0;
        for (int k = 0; k < order.Length; k++)
        {
            if (s[order[k]]) tp++; else fp++;
            if (k + 1 < order.Length && d[order[k + 1]] == d[order[k]]) continue;
            points.Add((neg == 0 ? 0 : (double)fp / neg, pos == 0 ? 0 : (double)tp / pos, d[order[k]]));
        }
        return points.ToArray();
    }

    /// <summary>Equal error rate: where the false-accept rate equals the false-reject rate, interpolated on the ROC.</summary>
    public static double Eer((double Far, double Tar, double Threshold)[] roc)
    {
        for (int k = 1; k < roc.Length; k++)
        {
            double f0 = roc[k - 1].Far, r0 = 1 - roc[k - 1].Tar, f1 = roc[k].Far, r1 = 1 - roc[k].Tar;
            if (f0 - r0 <= 0 && f1 - r1 >= 0)
            {
                double denom = (f1 - r1) - (f0 - r0);
                double a = denom == 0 ? 0 : -(f0 - r0) / denom;
                return f0 + a * (f1 - f0);
            }
        }
        return double.NaN;
    }

    private static double Std(List<double> v)
    {
        if (v.Count == 0) return 0;
        double m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / v.Count);
    }
}
