using System.Diagnostics;
using FaceNet.Embedding;
using FaceNet.Gallery;

namespace FaceNet.Benchmarks;

public sealed record SearchResult(int Faces, int Dimensions, int Queries, double LoadSeconds, double ExactMedianMs, double ExactP95Ms,
    double BuildSeconds, IReadOnlyList<GraphSearch> Graph, double PeakMemoryMb)
{
    /// <summary>What the graph (codes and links) holds in memory a face, as USearch counts its allocations.</summary>
    public double GraphBytesPerFace { get; init; }

    /// <summary>The graph's own bytes a face: its serialised length (what a saved graph weighs).</summary>
    public double SavedGraphBytesPerFace { get; init; }
}

public sealed record GraphSearch(int Candidates, double MedianMs, double P95Ms, double RecallAt1, double PersonRecallAt1);

public sealed record MaintenanceResult(int Faces, double FillSeconds, double OpenSeconds,
    double EnrollMedianMs, double EnrollP95Ms, double RemoveMedianMs, double RemoveP95Ms, double RenameMedianMs, double RenameP95Ms, double PeakMemoryMb)
{
    /// <summary>An exact search of the opened gallery (the index in memory: the same whether the store is encrypted or not).</summary>
    public double IdentifyMedianMs { get; init; }

    public bool Encrypted { get; init; }
}

/// <summary>
/// Galleries at scale, over synthetic faces that come in identities (10 per person: a person's direction
/// plus noise, same-person distances about 0.6–0.9 on unit vectors as with real embeddings).
/// </summary>
public static class GalleryBenchmark
{
    private const int PerPerson = 10;

    private sealed class Faces(int dim, int seed)
    {
        private readonly Random _rng = new(seed);
        public readonly List<float[]> Persons = [];

        public float[] Unit()
        {
            var v = new float[dim];
            for (int i = 0; i < dim; i++) v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
            L2.NormalizeInPlace(v);
            return v;
        }

        public float[] Of(float[] person)
        {
            var noise = Unit();
            var v = new float[dim];
            for (int d = 0; d < dim; d++) v[d] = person[d] + 0.45f * noise[d];
            L2.NormalizeInPlace(v);
            return v;
        }

        /// <summary>Face i of the sequence: a new person every 10 faces.</summary>
        public float[] Next(int i)
        {
            if (i % PerPerson == 0) Persons.Add(Unit());
            return Of(Persons[i / PerPerson]);
        }

        public int NextInt(int max) => _rng.Next(max);
    }

    /// <summary>Exact top-1 latency, then the HNSW graph's build time, latency and recall@1 against the exact answer.</summary>
    public static SearchResult Search(int n, int queryCount, IReadOnlyList<int> candidateCounts, FaceIndexOptions options, int dim = 128)
    {
        var gen = new Faces(dim, 42);
        var sw = Stopwatch.StartNew();
        using var index = new FaceIndex(dim, FaceNet.Matching.Metric.Euclidean, options with { ApproximateFrom = int.MaxValue });
        const int chunk = 50_000;
        for (int added = 0; added < n; added += chunk)
            index.Add(Enumerable.Range(added, Math.Min(chunk, n - added)).Select(gen.Next).ToList());
        double loadS = sw.Elapsed.TotalSeconds;
        var queries = Enumerable.Range(0, queryCount).Select(_ => gen.Of(gen.Persons[gen.NextInt(gen.Persons.Count)])).ToArray();
        var exactTimes = new List<double>();
        var exact = new int[queryCount];
        index.SearchExact(queries[0], 1); // warm-up
        for (int i = 0; i < queryCount; i++)
        {
            var t = Stopwatch.StartNew();
            exact[i] = index.SearchExact(queries[i], 1)[0].Index;
            exactTimes.Add(t.Elapsed.TotalMilliseconds);
        }
        sw.Restart();
        index.BuildGraph();
        double buildS = sw.Elapsed.TotalSeconds;
        var graph = new List<GraphSearch>();
        foreach (var candidates in candidateCounts)
        {
            var times = new List<double>();
            int hits = 0, personHits = 0;
            for (int i = 0; i < queryCount; i++)
            {
                var t = Stopwatch.StartNew();
                var a = index.Search(queries[i], 1, candidates);
                times.Add(t.Elapsed.TotalMilliseconds);
                if (a.Length > 0 && a[0].Index == exact[i]) hits++;
                if (a.Length > 0 && a[0].Index / PerPerson == exact[i] / PerPerson) personHits++;
            }
            graph.Add(new GraphSearch(candidates, Timing.Quantile(times, 0.5), Timing.Quantile(times, 0.95), (double)hits / queryCount, (double)personHits / queryCount));
        }
        return new SearchResult(n, dim, queryCount, loadS, Timing.Quantile(exactTimes, 0.5), Timing.Quantile(exactTimes, 0.95), buildS, graph, Timing.PeakMemoryMb())
        {
            GraphBytesPerFace = index.GraphBytes / (double)n, SavedGraphBytesPerFace = (index.SerializeGraph()?.Length ?? 0) / (double)n,
        };
    }

    /// <summary>
    /// What keeping a large gallery costs: <paramref name="n"/> faces enrolled in bulk into an SQLite gallery in
    /// <paramref name="folder"/>, opened as a <see cref="FaceGallery"/>, then single-face enrolments (each one
    /// committed, SQLite synchronous=FULL), removals (erasure) and renames timed one by one.
    /// </summary>
    public static MaintenanceResult Maintenance(int n, string folder, int operations = 50, int dim = 128, FaceIndexOptions? options = null,
        FaceNet.Gallery.Protection.MasterKey? key = null)
    {
        var gen = new Faces(dim, 7);
        var path = Path.Combine(folder, $"bench-{n}.db");
        foreach (var f in Directory.GetFiles(folder, $"bench-{n}.db*")) File.Delete(f);
        var model = new GalleryModel("bench", dim, "none", FaceNet.Matching.Metric.Euclidean);
        var sw = Stopwatch.StartNew();
        using (var store = GalleryStore.Open(path, model, key: key))
        {
            const int chunk = 20_000;
            for (int start = 0; start < n; start += chunk)
            {
                var people = new List<(string, IReadOnlyList<NewFace>)>();
                for (int i = start; i < Math.Min(n, start + chunk); i += PerPerson)
                    people.Add(($"P{i / PerPerson}", Enumerable.Range(i, Math.Min(PerPerson, n - i)).Select(k => new NewFace(gen.Next(k))).ToList()));
                store.EnrollMany(people);
            }
        }
        double fillS = sw.Elapsed.TotalSeconds;
        sw.Restart();
        using var gallery = FaceGallery.Open(path, model, indexOptions: options ?? new FaceIndexOptions { ApproximateFrom = int.MaxValue }, key: key);
        double openS = sw.Elapsed.TotalSeconds;
        var identify = new List<double>();
        for (int i = 0; i < Math.Max(operations, 100); i++)
        {
            var q = gen.Unit();
            var t = Stopwatch.StartNew();
            gallery.Identify(q, 0.9);
            identify.Add(t.Elapsed.TotalMilliseconds);
        }
        var enroll = new List<double>();
        var remove = new List<double>();
        var rename = new List<double>();
        for (int i = 0; i < operations; i++)
        {
            var face = new NewFace(gen.Unit());
            var t = Stopwatch.StartNew();
            gallery.Enroll($"New{i}", [face]);
            enroll.Add(t.Elapsed.TotalMilliseconds);
            t.Restart();
            gallery.Rename($"P{i}", $"Renamed{i}");
            rename.Add(t.Elapsed.TotalMilliseconds);
            t.Restart();
            gallery.Remove($"P{n / PerPerson - 1 - i}");
            remove.Add(t.Elapsed.TotalMilliseconds);
        }
        return new MaintenanceResult(n, fillS, openS, Timing.Quantile(enroll, 0.5), Timing.Quantile(enroll, 0.95),
            Timing.Quantile(remove, 0.5), Timing.Quantile(remove, 0.95), Timing.Quantile(rename, 0.5), Timing.Quantile(rename, 0.95), Timing.PeakMemoryMb())
        {
            IdentifyMedianMs = Timing.Quantile(identify, 0.5),
            Encrypted = key is not null,
        };
    }
}
