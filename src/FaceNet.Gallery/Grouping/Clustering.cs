using FaceNet.Matching;

namespace FaceNet.Gallery;

/// <summary>
/// Groups faces into people without labels. DBSCAN: faces within <c>eps</c> of each other are
/// neighbours; a face with at least <c>minSamples</c> neighbours (itself included) seeds a cluster;
/// faces reachable from no seed are noise (label −1). Chinese Whispers: a graph with an edge between
/// faces closer than the threshold; each face repeatedly takes the label most common among its
/// neighbours (weighted by similarity), in a seeded random order, until nothing changes.
/// </summary>
public static class Clustering
{
    /// <summary>Labels as groups: each cluster's indices, largest first (ties by label), and the unclustered (label &lt; 0).</summary>
    public static (IReadOnlyList<IReadOnlyList<int>> Clusters, IReadOnlyList<int> Noise) Groups(IReadOnlyList<int> labels)
    {
        var clusters = labels.Select((l, i) => (l, i)).Where(p => p.l >= 0).GroupBy(p => p.l)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => (IReadOnlyList<int>)g.Select(p => p.i).ToList()).ToList();
        var noise = labels.Select((l, i) => (l, i)).Where(p => p.l < 0).Select(p => p.i).ToList();
        return (clusters, noise);
    }

    public static int[] Dbscan(IReadOnlyList<float[]> x, double eps, int minSamples, Metric metric = Metric.Euclidean)
    {
        int n = x.Count;
        var neighbours = Neighbours(x, eps, metric);
        var label = Enumerable.Repeat(-2, n).ToArray(); // −2 unvisited, −1 noise
        int cluster = 0;
        for (int i = 0; i < n; i++)
        {
            if (label[i] != -2) continue;
            if (neighbours[i].Count + 1 < minSamples) { label[i] = -1; continue; }
            label[i] = cluster;
            var queue = new Queue<int>(neighbours[i]);
            while (queue.Count > 0)
            {
                int j = queue.Dequeue();
                if (label[j] == -1) label[j] = cluster; // border point
                if (label[j] != -2) continue;
                label[j] = cluster;
                if (neighbours[j].Count + 1 >= minSamples) foreach (var k in neighbours[j]) queue.Enqueue(k);
            }
            cluster++;
        }
        return label;
    }

    public static int[] ChineseWhispers(IReadOnlyList<float[]> x, double threshold, Metric metric = Metric.Euclidean, int iterations = 30, int seed = 1)
    {
        int n = x.Count;
        var edges = new List<(int To, double Weight)>[n];
        for (int i = 0; i < n; i++) edges[i] = new();
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double d = Distance.Of(metric, x[i], x[j]);
                if (d > threshold) continue;
                double w = 1 / (1e-6 + d);
                edges[i].Add((j, w));
                edges[j].Add((i, w));
            }
        var label = Enumerable.Range(0, n).ToArray();
        var rng = new Random(seed);
        var order = Enumerable.Range(0, n).ToArray();
        for (int it = 0; it < iterations; it++)
        {
            rng.Shuffle(order);
            bool changed = false;
            foreach (var i in order)
            {
                if (edges[i].Count == 0) continue;
                var votes = new Dictionary<int, double>();
                foreach (var (to, w) in edges[i]) votes[label[to]] = votes.GetValueOrDefault(label[to]) + w;
                int best = votes.OrderByDescending(v => v.Value).ThenBy(v => v.Key).First().Key;
                if (best != label[i]) { label[i] = best; changed = true; }
            }
            if (!changed) break;
        }
        // renumber 0..k−1 by first appearance
        var map = new Dictionary<int, int>();
        return label.Select(l => map.TryGetValue(l, out var m) ? m : map[l] = map.Count).ToArray();
    }

    private static List<int>[] Neighbours(IReadOnlyList<float[]> x, double eps, Metric metric)
    {
        var result = new List<int>[x.Count];
        for (int i = 0; i < x.Count; i++) result[i] = new();
        for (int i = 0; i < x.Count; i++)
            for (int j = i + 1; j < x.Count; j++)
                if (Distance.Of(metric, x[i], x[j]) <= eps) { result[i].Add(j); result[j].Add(i); }
        return result;
    }
}
