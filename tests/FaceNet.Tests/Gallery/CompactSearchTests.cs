using FaceNet.Gallery;
using FaceNet.Matching;
using FaceNet.Models;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// A compact gallery (int8 codes in an HNSW graph, no float vector in memory, candidates re-ranked from the store) gives
/// the answers of exact float search: the same name, candidates, distances, threshold and verdict, under min and mean
/// aggregation, with a subject left out, and the same pairs of duplicates.
/// </summary>
public sealed class CompactSearchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-compact-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    /// <summary>People as centres with faces spread around them (1 to 3 each), in 64 dimensions; a model whose impostor tail is of the same kind.</summary>
    internal static (List<(string Name, float[] Centre, float[][] Faces)> People, ModelInfo Model) Population(int count, int dim, int seed)
    {
        var r = new Random(seed);
        var people = Enumerable.Range(0, count).Select(i =>
        {
            var c = Unit(r, dim);
            return ($"p{i:D4}", c, Enumerable.Range(0, 1 + i % 3).Select(_ => Near(c, r, 0.55f)).ToArray());
        }).ToList();
        var others = Enumerable.Range(0, 1500).Select(_ => Unit(r, dim)).ToArray();
        var impostors = new List<double>();
        for (int i = 0; i < others.Length; i++)
            for (int j = i + 1; j < others.Length; j++) impostors.Add(Distance.Euclidean(others[i], others[j]));
        var tail = ImpostorTail.FromDistances([.. impostors], "synthetic people");
        return (people, new ModelInfo { Name = "m", EmbeddingSize = dim, Threshold = tail.ThresholdAt(2e-3, out _), ImpostorTail = tail });
    }

    [Fact]
    public void A_compact_gallery_answers_as_exact_float_search()
    {
        const int dim = 64;
        var (people, model) = Population(1200, dim, 3);
        var db = Path.Combine(_dir, "g.db");
        var galleryModel = new GalleryModel("m", dim, "fixed", Metric.Euclidean);
        using (var store = GalleryStore.Open(db, galleryModel))
            store.EnrollMany(people.Select(p => (p.Name, (IReadOnlyList<NewFace>)[.. p.Faces.Select(f => new NewFace(f))])).ToList());
        using var exact = FaceGallery.Open(db, galleryModel, readOnly: true, indexOptions: new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        using var compact = FaceGallery.Open(db, galleryModel, readOnly: true, indexOptions: new FaceIndexOptions { ApproximateFrom = 100 });
        Assert.Equal(exact.FaceCount, compact.FaceCount);
        Assert.True(compact.FaceCount > 2000);

        var r = new Random(17);
        var mated = people.Take(300).Select(p => Near(p.Centre, r, 0.55f));
        var strangers = Enumerable.Range(0, 100).Select(_ => Unit(r, dim));
        int n = 0;
        foreach (var q in mated.Concat(strangers))
        {
            foreach (var options in new[]
            {
                new IdentifyOptions { Top = 3 },
                new IdentifyOptions { Top = 2, Aggregation = Aggregation.Mean },
                new IdentifyOptions { Top = 1, Excluding = people[n % 300].Name },
            })
            {
                var want = exact.Identify(q, model, options);
                var got = compact.Identify(q, model, options);
                Assert.Equal(want.Threshold, got.Threshold, 12);
                Assert.Equal(want.Rule!.Comparisons, got.Rule!.Comparisons);
                Assert.Equal(want.Name, got.Name);
                Assert.Equal(want.Known, got.Known);
                // every distance a compact answer gives is an exact one: never nearer than the exact search's best
                Assert.True(got.Distance >= want.Distance - 1e-6, $"query {n}: {got.Distance} nearer than exact {want.Distance}");
                if (n >= 300) continue; // a stranger: the verdict (unknown) is what must agree; runners-up far off may differ
                Assert.True(want.Candidates.Select(c => c.Name).SequenceEqual(got.Candidates.Select(c => c.Name)),
                    $"query {n}, {options.Aggregation} top {options.Top}: {string.Join(", ", want.Candidates.Select(c => $"{c.Name} {c.Distance:F4}"))} vs {string.Join(", ", got.Candidates.Select(c => $"{c.Name} {c.Distance:F4}"))}");
                for (int i = 0; i < want.Candidates.Count; i++) Assert.Equal(want.Candidates[i].Distance, got.Candidates[i].Distance, 6);
            }
            n++;
        }
        // the index holds codes only: its own distances are not the answer's
        Assert.Throws<InvalidOperationException>(() => FaceIndexOf(compact).Vector(0));
        Assert.Equal(exact.Duplicates(model).Select(d => (d.Subject, d.Other)), compact.Duplicates(model).Select(d => (d.Subject, d.Other)));
    }

    [Fact]
    public void A_compact_gallery_follows_enrolments_and_erasures_as_exact_search_does()
    {
        const int dim = 32;
        var (people, _) = Population(400, dim, 5);
        var db = Path.Combine(_dir, "f.db");
        var galleryModel = new GalleryModel("m", dim, "fixed", Metric.Euclidean);
        using var compact = FaceGallery.Open(db, galleryModel, indexOptions: new FaceIndexOptions { ApproximateFrom = 50 });
        foreach (var p in people.Take(200)) compact.Enroll(p.Name, [.. p.Faces.Select(f => new NewFace(f))]);
        Assert.False(FaceIndexOf(compact).IsExact);
        foreach (var p in people.Skip(200)) compact.Enroll(p.Name, [.. p.Faces.Select(f => new NewFace(f))]);
        foreach (var p in people.Take(50)) Assert.True(compact.Remove(p.Name));
        using var exact = FaceGallery.Open(db, galleryModel, readOnly: true, indexOptions: new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        var r = new Random(23);
        foreach (var p in people)
        {
            var q = Near(p.Centre, r, 0.4f);
            var want = exact.Identify(q, 0.9, top: 3);
            var got = compact.Identify(q, 0.9, top: 3);
            Assert.Equal(want.Candidates.Select(c => c.Name), got.Candidates.Select(c => c.Name));
            Assert.Equal(want.Distance, got.Distance, 5);
            Assert.DoesNotContain(got.Candidates, c => people.Take(50).Any(e => e.Name == c.Name));
        }
    }

    internal static FaceIndex FaceIndexOf(FaceGallery g)
        => (FaceIndex)typeof(FaceGallery).GetField("_index", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(g)!;

    [Fact]
    public void Faces_enrolled_among_many_erasures_stay_findable()
    {
        // newcomers enrolled while others are erased (a service's day): the graph's links that led to erased faces must
        // still lead on, so that every face left is found by its own centre
        const int dim = 64;
        var r = new Random(1);
        using var index = new FaceIndex(dim, Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 500 });
        var people = new Dictionary<int, (float[] Centre, int[] Rows)>();
        int next = 0;
        void Enrol(float noise, int faces)
        {
            var c = Unit(r, dim);
            int first = index.Add(Enumerable.Range(0, faces).Select(_ => Near(c, r, noise)).ToList());
            people[next++] = (c, Enumerable.Range(first, faces).ToArray());
        }
        for (int p = 0; p < 100; p++) Enrol(0.3f, 10);
        Assert.True(index.IsApproximate);
        var newcomers = new List<int>();
        for (int i = 0; i < 1500; i++)
        {
            newcomers.Add(next);
            Enrol(0.1f, 2);
            if (i % 3 == 0) continue;
            int k = r.Next(newcomers.Count), who = newcomers[k];
            newcomers.RemoveAt(k);
            index.Remove(people[who].Rows);
            people.Remove(who);
        }
        var missed = people.Where(p => index.Search(p.Value.Centre, 1) is not [var best] || !p.Value.Rows.Contains(best.Index)).Select(p => p.Key).ToList();
        Assert.True(missed.Count == 0, $"{missed.Count} of {people.Count} people not found by their centre after {index.Rows - index.Count} faces were erased");
    }
}

public sealed class GraphReloadTests
{
    [Fact]
    public void A_graph_read_back_from_its_bytes_takes_more_faces_and_erasures()
    {
        var r = new Random(1);
        var vs = Enumerable.Range(0, 300).Select(_ => Unit(r, 64)).ToList();
        using var index = new FaceIndex(64, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 10 });
        index.Add(vs.Take(200).ToList());
        var codes = new[] { index.Code(3)!, index.Code(4)! }.Select(c => (byte[])(Array)c).ToList();
        Assert.All(codes, c => Assert.True(index.SerializeGraph().AsSpan().IndexOf(c) >= 0));
        index.Remove([3, 4]);
        var bytes = index.SerializeGraph()!;
        Assert.All(codes, c => Assert.True(bytes.AsSpan().IndexOf(c) < 0)); // a removed face's code leaves the graph's bytes
        using var back = FaceIndex.FromGraph(64, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 10 }, bytes, 200, [3, 4])!;
        Assert.Equal(198, back.Count);
        back.Add(vs.Skip(200).ToList());
        Assert.Equal(298, back.Count);
        back.Remove([250]);
        for (int i = 0; i < 300; i++)
            if (i is not (3 or 4 or 250)) Assert.Equal(i, back.Search(vs[i], 1)[0].Index);
        Assert.DoesNotContain(back.Search(vs[250], 5), n => n.Index == 250);
    }
}
