using FaceNet.Evaluation;

namespace FaceNet.Tests.Evaluation;

public sealed class ProtocolTests
{
    private static int[] Folds(int n, int folds = 10) => Enumerable.Range(0, n).Select(i => i * folds / n).ToArray();

    [Fact]
    public void Perfectly_separable_distances_give_perfect_figures()
    {
        // 10 folds of 10 same (0.2–0.4) and 10 different (0.8–1.0) pairs
        var d = new List<double>();
        var s = new List<bool>();
        var f = new List<int>();
        var rng = new Random(1);
        for (int fold = 0; fold < 10; fold++)
            for (int i = 0; i < 20; i++)
            {
                bool same = i < 10;
                d.Add(same ? 0.2 + 0.2 * rng.NextDouble() : 0.8 + 0.2 * rng.NextDouble());
                s.Add(same);
                f.Add(fold);
            }
        var r = Protocol.Evaluate(d, s, f);
        Assert.Equal(1.0, r.Accuracy);
        Assert.Equal(0.0, r.AccuracyStd);
        Assert.Equal(1.0, r.Auc);
        Assert.Equal(0.0, r.Eer, 9);
        Assert.InRange(r.Threshold, 0.4, 0.8);
        Assert.Equal(1.0, r.Val);
        // with 90 training impostors a FAR of 1e-3 puts the threshold just under the nearest one; a test
        // fold may hold a nearer impostor, so the FAR reached is small but not always zero
        Assert.InRange(r.Far, 0.0, 0.02);
    }

    [Fact]
    public void Known_overlap_gives_the_accuracy_computed_by_hand()
    {
        // same: 0.1 0.2 0.3 0.6 ; different: 0.4 0.5 0.7 0.8
        // best single threshold: t in (0.3,0.4) → 3 + 4 = 7/8 right; or t in (0.6,0.7) → 4 + 2 = 6/8.
        double[] d = [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8];
        bool[] s = [true, true, true, true, false, false, false, false];
        Assert.Equal(0.35, Protocol.BestThreshold(d, s), 9);
        Assert.Equal(7.0 / 8, Protocol.Accuracy(Enumerable.Range(0, 8), d, s, 0.35));
        // AUC = P(d_diff > d_same): of 16 pairs, (0.6 vs 0.4) and (0.6 vs 0.5) are the wrong way → 14/16
        Assert.Equal(14.0 / 16, Protocol.Auc(d, s), 9);
        // EER: the ROC passes FAR 0.25 with FRR 0.25 at t = 0.4 (one of four wrong each way)
        Assert.Equal(0.25, Protocol.Eer(Protocol.RocCurve(d, s)), 9);
    }

    [Fact]
    public void Fold_thresholds_never_see_their_own_fold()
    {
        // Folds 1–9 separate at 0.5; fold 0 alone would move the best threshold to ~0.95.
        var d = new List<double>();
        var s = new List<bool>();
        var f = new List<int>();
        for (int fold = 0; fold < 10; fold++)
            for (int i = 0; i < 10; i++)
            {
                bool same = i < 5;
                d.Add(fold == 0 ? (same ? 0.9 : 1.0) : (same ? 0.3 + 0.01 * i : 0.7 + 0.01 * i));
                s.Add(same);
                f.Add(fold);
            }
        var r = Protocol.Evaluate(d, s, f);
        var trainOnly = Enumerable.Range(0, d.Count).Where(i => f[i] != 0).ToArray();
        double expected = Protocol.BestThreshold(trainOnly.Select(i => d[i]).ToArray(), trainOnly.Select(i => s[i]).ToArray());
        Assert.Equal(expected, r.FoldThresholds[0], 12);
        Assert.InRange(r.FoldThresholds[0], 0.34, 0.7);
        // fold 0 is then half wrong (its same pairs at 0.9 are rejected): mean accuracy 0.95
        Assert.Equal(0.95, r.Accuracy, 9);
    }

    [Fact]
    public void Pairs_without_a_face_count_as_non_matches()
    {
        double[] d = [0.2, double.PositiveInfinity, 0.9, double.PositiveInfinity];
        bool[] s = [true, true, false, false];
        var r = Protocol.Evaluate(d, s, [0, 0, 0, 0]);
        Assert.Equal(0.75, r.Accuracy); // the same pair without a face is rejected: a miss
        Assert.True(double.IsFinite(r.Threshold));
    }

    [Fact]
    public void Threshold_at_far_interpolates_between_impostor_distances()
    {
        // 1000 impostors at 1.000, 1.001, … : FAR 1e-2 is reached at the 10th (1.009)
        var d = Enumerable.Range(0, 1000).Select(i => 1.0 + i / 1000.0).Concat([0.1]).ToArray();
        var s = Enumerable.Repeat(false, 1000).Concat([true]).ToArray();
        Assert.Equal(1.009, Protocol.ThresholdAtFar(d, s, 1e-2), 9);
        Assert.True(Protocol.ThresholdAtFar(d, s, 1e-4) < 1.0);
    }

    [Fact]
    public void Calibration_meets_the_target_far_and_reports_intervals()
    {
        var rng = new Random(3);
        var impostor = Enumerable.Range(0, 10_000).Select(_ => 1.2 + 0.15 * Normal(rng)).ToArray();
        var genuine = Enumerable.Range(0, 500).Select(_ => 0.7 + 0.15 * Normal(rng)).ToArray();
        var r = Calibration.AtFar(genuine, impostor, 1e-3);
        Assert.True(r.Far <= 1e-3);
        Assert.Equal(10, impostor.Count(x => x <= r.Threshold));
        Assert.True(r.FarLow <= r.Far && r.Far <= r.FarHigh && r.FarHigh < 3e-3);
        Assert.True(r.Sufficient);
        Assert.InRange(r.Frr, 0.0, 0.5);
        var f = Calibration.AtFrr(genuine, impostor, 0.05);
        Assert.True(f.Frr <= 0.05);
        Assert.True(genuine.Count(x => x > f.Threshold) <= 25);
        Assert.False(Calibration.AtFar(genuine, impostor.Take(1000).ToArray(), 1e-4).Sufficient);
        // Wilson interval of 0 successes in 3000 trials: upper bound near the rule of three
        Assert.InRange(Calibration.Wilson(0, 3000).High, 0.0008, 0.0014);
    }

    [Fact]
    public void Calibration_counts_face_less_pairs_as_rejected_and_keeps_a_finite_threshold()
    {
        // 100 genuine pairs, 10 of them with an image where no face was found (+∞); 1000 impostors, 2 face-less
        var rng = new Random(4);
        var genuine = Enumerable.Range(0, 100).Select(i => i < 10 ? double.PositiveInfinity : 0.6 + 0.1 * Normal(rng)).ToArray();
        var impostor = Enumerable.Range(0, 1000).Select(i => i < 2 ? double.PositiveInfinity : 1.3 + 0.1 * Normal(rng)).ToArray();
        var far = Calibration.AtFar(genuine, impostor, 0.01);
        Assert.True(double.IsFinite(far.Threshold));
        Assert.True(far.Frr >= 0.10, "face-less genuine pairs are false rejections");
        var frr = Calibration.AtFrr(genuine, impostor, 0.01); // unreachable: 10 % can never be accepted
        Assert.True(double.IsFinite(frr.Threshold));
        Assert.Equal(0.10, frr.Frr, 9);
        Assert.True(frr.Far < 0.5, "the threshold did not become 'accept everything'");
        var best = Calibration.AtBestAccuracy(genuine, impostor);
        Assert.True(double.IsFinite(best.Threshold));
        Assert.InRange(best.Threshold, 0.7, 1.3);
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
