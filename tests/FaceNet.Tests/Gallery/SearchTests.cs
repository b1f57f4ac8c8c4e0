using FaceNet.Embedding;
using FaceNet.Gallery;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

public sealed class SearchTests
{
    [Fact]
    public void Exact_search_finds_the_true_nearest_faces_in_order()
    {
        var r = new Random(5);
        var data = Enumerable.Range(0, 30_000).Select(_ => Unit(r)).ToList();
        using var index = new FaceIndex(128, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        index.Add(data);
        var q = Near(data[1234], r, 0.2f);
        var got = index.SearchExact(q, 5);
        var want = data.Select((v, i) => (i, d: FaceNet.Matching.Distance.Euclidean(q, v))).OrderBy(p => p.d).Take(5).ToArray();
        Assert.Equal(want.Select(p => p.i), got.Select(n => n.Index));
        for (int i = 0; i < 5; i++) Assert.Equal(want[i].d, got[i].Distance, 4);
    }

    [Fact]
    public void Hnsw_recall_at_1_against_exact_search()
    {
        // 2,000 people × 10 faces; queries are new faces of enrolled people.
        var r = new Random(9);
        var people = Enumerable.Range(0, 2_000).Select(_ => Unit(r)).ToList();
        var faces = people.SelectMany(p => Enumerable.Range(0, 10).Select(_ => Near(p, r, 0.45f))).ToList();
        // the float vectors kept beside the codes: the graph's candidates re-ranked from memory, compared with the full scan
        using var index = new FaceIndex(128, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 10_000, KeepVectors = true });
        index.Add(faces);
        Assert.True(index.IsApproximate);
        int hits = 0, n = 300;
        for (int i = 0; i < n; i++)
        {
            var q = Near(people[r.Next(people.Count)], r, 0.45f);
            if (index.Search(q, 1)[0].Index == index.SearchExact(q, 1)[0].Index) hits++;
        }
        Assert.True(hits >= 0.99 * n, $"recall@1 {hits / (double)n:F3}");
        // incremental: a face added after the graph was built is found
        var late = Unit(r);
        int row = index.Add([late]);
        Assert.Equal(row, index.Search(late, 1)[0].Index);
    }

    [Fact]
    public void Every_face_of_a_built_graph_is_reached_by_a_search_for_it()
    {
        // tight clusters (people) are where a badly linked node strands a whole person; ten builds
        for (int seed = 0; seed < 10; seed++)
        {
            var r = new Random(seed);
            var faces = Enumerable.Range(0, 100).Select(_ => Unit(r, 64)).SelectMany(c => Enumerable.Range(0, 10).Select(_ => Near(c, r, 0.3f))).ToList();
            using var index = new FaceIndex(64, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 500 });
            index.Add(faces);
            Assert.True(index.IsApproximate);
            var missed = Enumerable.Range(0, faces.Count).Where(i => index.Search(faces[i], 1)[0].Index != i).ToList();
            Assert.True(missed.Count == 0, $"build {seed}: {missed.Count} faces not reached, e.g. row {missed.FirstOrDefault()}");
        }
    }

    [Fact]
    public void Open_set_identification_with_min_and_mean_aggregation()
    {
        var dir = Directory.CreateTempSubdirectory("facenet-id-").FullName;
        try
        {
            var r = new Random(2);
            var ann = Unit(r, 16);
            var bob = Unit(r, 16);
            using var g = FaceGallery.Open(Path.Combine(dir, "g.db"), new GalleryModel("m", 16, "fixed", FaceNet.Matching.Metric.Euclidean));
            var annFaces = new[] { Near(ann, r, 0.2f), Near(ann, r, 0.2f) };
            g.Enroll("Ann", [new NewFace(annFaces[0]), new NewFace(annFaces[1])]);
            g.Enroll("Bob", [new NewFace(Near(bob, r, 0.2f))]);
            var hit = g.Identify(Near(ann, r, 0.2f), threshold: 0.8, top: 2);
            Assert.True(hit.Known);
            Assert.Equal("Ann", hit.Name);
            Assert.Equal(["Ann", "Bob"], hit.Candidates.Select(c => c.Name));
            // the same query: min takes Ann's nearer face, mean the average of her two
            var q = Near(ann, r, 0.2f);
            var min = g.Identify(q, 0.8, 2, Aggregation.Min);
            var mean = g.Identify(q, 0.8, 2, Aggregation.Mean);
            Assert.Equal("Ann", mean.Name);
            var d = annFaces.Select(f => (double)FaceNet.Matching.Distance.Euclidean(q, f)).ToArray();
            Assert.Equal(d.Min(), min.Distance, 5);
            Assert.Equal(d.Average(), mean.Distance, 5);
            Assert.True(mean.Distance > min.Distance);
            var stranger = g.Identify(Unit(r, 16), threshold: 0.5);
            Assert.False(stranger.Known);
            Assert.Null(stranger.Name);
            Assert.True(stranger.Distance > 0.5);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Dbscan_and_chinese_whispers_recover_the_people()
    {
        var r = new Random(4);
        var people = Enumerable.Range(0, 5).Select(_ => Unit(r)).ToList();
        var faces = people.SelectMany((p, i) => Enumerable.Range(0, 6).Select(_ => (Person: i, V: Near(p, r, 0.35f)))).ToList();
        var outlier = Unit(r);
        var vectors = faces.Select(f => f.V).Append(outlier).ToList();
        foreach (var labels in new[] { Clustering.Dbscan(vectors, 0.9, 2), Clustering.ChineseWhispers(vectors, 0.9) })
        {
            for (int p = 0; p < 5; p++)
                Assert.Single(faces.Select((f, i) => (f, i)).Where(x => x.f.Person == p).Select(x => labels[x.i]).Distinct());
            Assert.Equal(5, faces.Select((f, i) => labels[i]).Distinct().Count());
            Assert.DoesNotContain(labels[^1], faces.Select((f, i) => labels[i]));
        }
        Assert.Equal(-1, Clustering.Dbscan(vectors, 0.9, 2)[^1]); // DBSCAN calls the loner noise
    }
}

public sealed class SavedGraphTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-graph-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_saved_graph_keeps_each_rows_subject_and_yaw_and_a_changed_byte_is_refused(bool encrypted)
    {
        var header = new SavedGraph.Header("m:1", 32, 16, 3, 16, 12_345, 3);
        byte[]? key = encrypted ? System.Security.Cryptography.RandomNumberGenerator.GetBytes(32) : null;
        byte[] graph = [7, 8, 9, 10];
        var bytes = SavedGraph.Encode(header, [41, -1, 57], [12.5f, float.NaN, -63f], graph, key);
        var back = SavedGraph.Decode(bytes, header with { Position = 0 }, key);
        Assert.NotNull(back);
        Assert.Equal(12_345, back.Header.Position);
        Assert.Equal([41L, -1L, 57L], back.SubjectOfRow);
        Assert.Equal(12.5f, back.YawOfRow[0]);
        Assert.True(float.IsNaN(back.YawOfRow[1]));
        Assert.Equal(-63f, back.YawOfRow[2]);
        Assert.Equal(graph, back.Graph);
        // another shard's, another key's, or one changed byte anywhere: not taken
        Assert.Null(SavedGraph.Decode(bytes, header with { Shard = 4 }, key));
        Assert.Null(SavedGraph.Decode(bytes, header, encrypted ? null : new byte[32]));
        for (int i = 0; i < bytes.Length; i += 7)
        {
            var bad = (byte[])bytes.Clone();
            bad[i] ^= 0x20;
            Assert.Null(SavedGraph.Decode(bad, header, key));
        }
    }

    [Fact]
    public void A_large_gallery_keeps_its_hnsw_graph_between_runs_and_erasure_removes_it()
    {
        var db = Path.Combine(_dir, "big.db");
        var model = new GalleryModel("m", 32, "fixed", FaceNet.Matching.Metric.Euclidean);
        var options = new FaceIndexOptions { ApproximateFrom = 50 };
        var r = new Random(8);
        float[] Unit()
        {
            var v = Enumerable.Range(0, 32).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
            FaceNet.Embedding.L2.NormalizeInPlace(v);
            return v;
        }
        var secret = Unit();
        using (var store = GalleryStore.Open(db, model))
        {
            for (int p = 0; p < 30; p++) store.Enroll($"P{p}", [new NewFace(Unit()), new NewFace(Unit())]);
            store.Enroll("Secret", [new NewFace(secret)]);
        }
        byte[] code;
        using (var first = FaceGallery.Open(db, model, indexOptions: options))
        {
            // what the graph holds of the face: its int8 code (the float vectors are not in a compact index)
            var index = CompactSearchTests.FaceIndexOf(first);
            code = (byte[])(Array)index.Code(index.Rows - 1)!;
            Assert.False(first.GraphLoadedFromDisk);
            Assert.True(File.Exists(first.GraphPath));
            Assert.Equal("Secret", first.Identify(secret, 0.1).Name);
        }
        using (var second = FaceGallery.Open(db, model, readOnly: true, indexOptions: options))
        {
            Assert.True(second.GraphLoadedFromDisk);
            Assert.Equal("Secret", second.Identify(secret, 0.1).Name);
            Assert.True(File.ReadAllBytes(second.GraphPath!).AsSpan().IndexOf(code) >= 0);
        }
        using (var store = GalleryStore.Open(db, model)) Assert.True(store.Remove("Secret"));
        Assert.False(File.Exists(db + ".hnsw"));
        using var third = FaceGallery.Open(db, model, indexOptions: options);
        Assert.False(third.GraphLoadedFromDisk);
        Assert.False(third.Identify(secret, 0.1).Known);
        Assert.True(File.ReadAllBytes(third.GraphPath!).AsSpan().IndexOf(code) < 0);
    }
}
