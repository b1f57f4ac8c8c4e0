namespace FaceNet.Training;

/// <summary>
/// FaceNet's triplet loss on unit vectors, max(0, ‖a−p‖² − ‖a−n‖² + α), with the negatives chosen online
/// inside the mini-batch as the paper does: for every anchor–positive pair, a *semi-hard* negative
/// (‖a−p‖² &lt; ‖a−n‖² &lt; ‖a−p‖² + α; of those, the nearest), or the hardest negative when there is none.
/// </summary>
public static class TripletLoss
{
    public readonly record struct Triplet(int Anchor, int Positive, int Negative, bool SemiHard);

    /// <summary>The triplets of a batch (each index's label in <paramref name="labels"/>), from its outputs' pairwise squared distances.</summary>
    public static List<Triplet> Mine(IReadOnlyList<float[]> outputs, IReadOnlyList<int> labels, float margin)
    {
        int n = outputs.Count;
        var d = new float[n, n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                d[i, j] = d[j, i] = SquaredDistance(outputs[i], outputs[j]);
        var triplets = new List<Triplet>();
        for (int a = 0; a < n; a++)
            for (int p = 0; p < n; p++)
            {
                if (p == a || labels[p] != labels[a]) continue;
                float dap = d[a, p];
                int semi = -1, hardest = -1;
                for (int k = 0; k < n; k++)
                {
                    if (labels[k] == labels[a]) continue;
                    float dan = d[a, k];
                    if (dan > dap && dan < dap + margin && (semi < 0 || dan < d[a, semi])) semi = k;
                    if (hardest < 0 || dan < d[a, hardest]) hardest = k;
                }
                if (semi >= 0) triplets.Add(new Triplet(a, p, semi, true));
                else if (hardest >= 0) triplets.Add(new Triplet(a, p, hardest, false));
            }
        return triplets;
    }

    /// <summary>The mean loss over the triplets and its gradient with respect to each output (added into <paramref name="dOut"/>).</summary>
    public static double LossAndGradient(IReadOnlyList<float[]> outputs, IReadOnlyList<Triplet> triplets, float margin, float[][] dOut)
    {
        if (triplets.Count == 0) return 0;
        double total = 0;
        float scale = 1f / triplets.Count;
        foreach (var t in triplets)
        {
            var a = outputs[t.Anchor];
            var p = outputs[t.Positive];
            var n = outputs[t.Negative];
            double l = SquaredDistance(a, p) - SquaredDistance(a, n) + margin;
            if (l <= 0) continue;
            total += l;
            for (int i = 0; i < a.Length; i++)
            {
                // d/da = 2(a−p) − 2(a−n) = 2(n−p); d/dp = 2(p−a); d/dn = 2(a−n)
                dOut[t.Anchor][i] += scale * 2 * (n[i] - p[i]);
                dOut[t.Positive][i] += scale * 2 * (p[i] - a[i]);
                dOut[t.Negative][i] += scale * 2 * (a[i] - n[i]);
            }
        }
        return total / triplets.Count;
    }

    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float x = a[i] - b[i];
            s += x * x;
        }
        return s;
    }
}
