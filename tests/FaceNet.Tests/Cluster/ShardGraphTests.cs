using System.Net;
using System.Runtime.InteropServices;
using FaceNet.Cluster;
using FaceNet.Cluster.Shards;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using FaceNet.Tests.Gallery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace FaceNet.Tests.Cluster;

/// <summary>
/// Shards' graphs that are kept (silos in this process, the tests' real PostgreSQL): a silo started again loads each
/// shard's saved graph and catches up from the feed instead of building it, and answers as a fresh build and as exact
/// search do; a silo with an empty disk takes the database's copy; a damaged or stale graph is rebuilt; an encrypted
/// gallery's saved graphs hold no vector bytes, float or int8; an erasure leaves no saved graph holding the face's code.
/// </summary>
[Collection("postgres")]
public sealed class ShardGraphTests(PostgresServer postgres) : IDisposable
{
    private const int Dim = 64, Shards = 4;
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-graphs-").FullName;
    private static readonly GalleryModel Model = new("graph-model:01", Dim, "fixed", FaceNet.Matching.Metric.Euclidean);
    private static readonly FaceIndexOptions Compact = new() { ApproximateFrom = 10 };

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static async Task<IHost> StartSilo(string db, string cluster, string graphs, MasterKey? key = null)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .UseOrleans(s => s.Configure<ClusterOptions>(o => { o.ClusterId = cluster; o.ServiceId = "facenet-tests"; })
                .ConfigureEndpoints(IPAddress.Loopback, FreePort.Next(), FreePort.Next())
                .UsePostgresMembership(db, cluster)
                .AddGalleryShards(db, Shards, key, Compact, graphs))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static List<(string Name, float[] Centre, float[][] Faces)> People(int count, int seed)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var c = RandomFaces.Unit(r, Dim);
            return ($"p{seed}-{i:D3}", c, Enumerable.Range(0, 1 + i % 2).Select(_ => RandomFaces.Near(c, r, 0.4f)).ToArray());
        })];
    }

    private static void Enrol(string db, IEnumerable<(string Name, float[] Centre, float[][] Faces)> people, MasterKey? key = null)
    {
        using var store = PostgresGalleryStore.Open(db, Model, key: key);
        store.EnrollMany([.. people.Select(p => (p.Name, (IReadOnlyList<NewFace>)[.. p.Faces.Select(f => new NewFace(f))]))]);
    }

    private static async Task<ShardStatus[]> Statuses(IHost silo)
    {
        var grains = silo.Services.GetRequiredService<IGrainFactory>();
        return await Task.WhenAll(Enumerable.Range(0, Shards).Select(k => ShardGrains.Get(grains, GalleryTenants.Default, k).Status()));
    }

    private static ShardedGallery Sharded(IHost silo, string db, MasterKey? key = null)
        => new(silo.Services.GetRequiredService<IGrainFactory>(), PostgresGalleryStore.Open(db, Model, key: key), Shards);

    /// <summary>The answers of the cluster equal exact float search's (a FaceGallery scanning the store's vectors) for these queries.</summary>
    private static async Task AnswersAsExact(ShardedGallery sharded, string db, IEnumerable<float[]> queries, MasterKey? key = null)
    {
        using var exact = FaceGallery.Open(PostgresGalleryStore.Open(db, null, readOnly: true, key: key), new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        foreach (var q in queries)
        {
            var want = exact.Identify(q, 0.9, top: 3);
            var got = await sharded.IdentifyAsync(q, 0.9, 3);
            Assert.Equal(want.Candidates.Select(c => c.Name), got.Candidates.Select(c => c.Name));
            Assert.Equal(want.Distance, got.Distance, 6);
        }
    }

    private static byte[][] Files(string graphs) => [.. Directory.EnumerateFiles(graphs, "*.graph", SearchOption.AllDirectories).Select(File.ReadAllBytes)];

    private static byte[][] DatabaseCopies(string db)
    {
        using var c = new NpgsqlConnection(db);
        c.Open();
        using var cmd = new NpgsqlCommand("SELECT bytes FROM facenet.shard_graphs", c);
        using var r = cmd.ExecuteReader();
        var list = new List<byte[]>();
        while (r.Read()) list.Add(r.GetFieldValue<byte[]>(0));
        return [.. list];
    }

    /// <summary>The int8 code a graph holds of a vector (USearch quantises each vector on its own).</summary>
    private static byte[] Code(float[] v)
    {
        using var index = new FaceIndex(Dim, FaceNet.Matching.Metric.Euclidean, new FaceIndexOptions { ApproximateFrom = 1 });
        index.Add([v]);
        return (byte[])(Array)index.Code(0)!;
    }

    private static bool Holds(IEnumerable<byte[]> saved, byte[] pattern) => saved.Any(b => b.AsSpan().IndexOf(pattern) >= 0);

    [Fact]
    public async Task A_saved_graph_is_loaded_caught_up_from_the_feed_and_answers_as_a_fresh_build()
    {
        var db = postgres.NewDatabase();
        var people = People(240, 1);
        Enrol(db, people.Take(200));
        var graphs = Path.Combine(_dir, "a");
        var r = new Random(5);
        var queries = people.Select(p => RandomFaces.Near(p.Centre, r, 0.4f)).ToList();

        var first = await StartSilo(db, "g1", graphs);
        try
        {
            using var sharded = Sharded(first, db);
            Assert.Equal(200, (await sharded.SizeAsync()).Subjects);
            var built = await Statuses(first);
            Assert.All(built, s => Assert.Equal("built", s.Graph));
            Assert.All(built, s => Assert.True(s.SavedAt > 0));
            Assert.Equal(Shards, Files(graphs).Length);
            Assert.Equal(Shards, DatabaseCopies(db).Length);
        }
        finally { await first.StopAsync(); first.Dispose(); }

        // while no silo runs: forty more people, ten erased: the feed after the saved position
        Enrol(db, people.Skip(200));
        using (var store = PostgresGalleryStore.Open(db, Model))
            foreach (var p in people.Take(10)) Assert.NotNull(store.RemoveSubject(p.Name));

        var again = await StartSilo(db, "g2", graphs);
        try
        {
            using var sharded = Sharded(again, db);
            Assert.Equal((230, people.Skip(10).Sum(p => p.Faces.Length)), await sharded.SizeAsync());
            Assert.All(await Statuses(again), s => Assert.Equal("disk", s.Graph));
            await AnswersAsExact(sharded, db, queries);
            // and as a fresh build of the same faces does (a compact gallery built from the store now)
            using var fresh = FaceGallery.Open(PostgresGalleryStore.Open(db, null, readOnly: true), Compact);
            foreach (var q in queries)
            {
                var want = fresh.Identify(q, 0.9, top: 3);
                var got = await sharded.IdentifyAsync(q, 0.9, 3);
                Assert.Equal(want.Candidates.Select(c => c.Name), got.Candidates.Select(c => c.Name));
                Assert.Equal(want.Distance, got.Distance, 6);
            }
        }
        finally { await again.StopAsync(); again.Dispose(); }

        // a silo with nothing on its disk (one taking a dead silo's shards over) takes the database's copies
        var other = await StartSilo(db, "g3", Path.Combine(_dir, "empty"));
        try
        {
            using var sharded = Sharded(other, db);
            Assert.Equal(230, (await sharded.SizeAsync()).Subjects);
            Assert.All(await Statuses(other), s => Assert.Equal("database", s.Graph));
            await AnswersAsExact(sharded, db, queries);
        }
        finally { await other.StopAsync(); other.Dispose(); }
    }

    [Fact]
    public async Task A_damaged_or_stale_graph_is_rebuilt_not_trusted()
    {
        var db = postgres.NewDatabase();
        var people = People(160, 2);
        Enrol(db, people.Take(120));
        var graphs = Path.Combine(_dir, "b");
        var silo = await StartSilo(db, "d1", graphs);
        try { using var sharded = Sharded(silo, db); await sharded.SizeAsync(); }
        finally { await silo.StopAsync(); silo.Dispose(); }

        // shard 0: one byte changed in the middle of both copies (its file here and the database's)
        var file = Directory.EnumerateFiles(graphs, "shard-0-of-4.graph", SearchOption.AllDirectories).Single();
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(file, bytes);
        using (var c = new NpgsqlConnection(db))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("UPDATE facenet.shard_graphs SET bytes = set_byte(bytes, length(bytes) / 2, get_byte(bytes, length(bytes) / 2) # 64) WHERE shard = 0", c);
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        var r = new Random(9);
        var queries = people.Take(120).Select(p => RandomFaces.Near(p.Centre, r, 0.4f)).ToList();
        silo = await StartSilo(db, "d2", graphs);
        try
        {
            using var sharded = Sharded(silo, db);
            var statuses = await Statuses(silo);
            Assert.Equal("built", statuses[0].Graph);
            Assert.All(statuses.Skip(1), s => Assert.Equal("disk", s.Graph));
            await AnswersAsExact(sharded, db, queries);
        }
        finally { await silo.StopAsync(); silo.Dispose(); }

        // stale: the feed no longer reaches back to the saved positions (trimmed past them): every shard is rebuilt
        Enrol(db, people.Skip(120));
        using (var c = new NpgsqlConnection(db))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("UPDATE facenet.meta SET value = (SELECT max(seq) FROM facenet.changes)::text WHERE key = 'feed_pruned_through'", c);
            cmd.ExecuteNonQuery();
        }
        silo = await StartSilo(db, "d3", graphs);
        try
        {
            using var sharded = Sharded(silo, db);
            Assert.Equal(160, (await sharded.SizeAsync()).Subjects);
            Assert.All(await Statuses(silo), s => Assert.Equal("built", s.Graph));
            await AnswersAsExact(sharded, db, people.Select(p => RandomFaces.Near(p.Centre, r, 0.4f)));
        }
        finally { await silo.StopAsync(); silo.Dispose(); }
    }

    [Fact]
    public async Task An_encrypted_galleries_saved_graphs_hold_no_vector_bytes()
    {
        var db = postgres.NewDatabase();
        var key = MasterKey.Create();
        var people = People(120, 3);
        Enrol(db, people, key);
        var graphs = Path.Combine(_dir, "c");
        var silo = await StartSilo(db, "e1", graphs, key);
        try
        {
            using var sharded = Sharded(silo, db, key);
            Assert.Equal(120, (await sharded.SizeAsync()).Subjects);
            Assert.All(await Statuses(silo), s => Assert.Equal("built", s.Graph));
            var r = new Random(2);
            await AnswersAsExact(sharded, db, people.Select(p => RandomFaces.Near(p.Centre, r, 0.4f)), key);
        }
        finally { await silo.StopAsync(); silo.Dispose(); }
        byte[][] saved = [.. Files(graphs), .. DatabaseCopies(db)];
        Assert.Equal(2 * Shards, saved.Length);
        foreach (var face in people.SelectMany(p => p.Faces))
        {
            Assert.False(Holds(saved, MemoryMarshal.AsBytes(face.AsSpan()).ToArray()), "a float vector in the clear");
            Assert.False(Holds(saved, Code(face)), "an int8 code in the clear");
        }
        // and they open: a silo started again loads them
        silo = await StartSilo(db, "e2", graphs, key);
        try
        {
            using var sharded = Sharded(silo, db, key);
            await sharded.SizeAsync();
            Assert.All(await Statuses(silo), s => Assert.Equal("disk", s.Graph));
        }
        finally { await silo.StopAsync(); silo.Dispose(); }
    }

    [Fact]
    public async Task Once_an_erasure_is_acknowledged_no_saved_graph_holds_the_face()
    {
        var db = postgres.NewDatabase();
        var people = People(120, 4);
        Enrol(db, people);
        var graphs = Path.Combine(_dir, "d");
        var silo = await StartSilo(db, "x1", graphs);
        try
        {
            using var sharded = Sharded(silo, db);
            await sharded.SizeAsync();
            var gone = people[7];
            var codes = gone.Faces.Select(Code).ToList();
            // the saved graphs hold the face's code before (the search by bytes finds what it looks for)
            Assert.All(await Statuses(silo), s => Assert.Equal("built", s.Graph));
            Assert.Equal(2 * Shards, Files(graphs).Length + DatabaseCopies(db).Length);
            var missing = people.SelectMany((p, i) => p.Faces.Select((f, j) => (i, j, f))).Where(x => !Holds(Files(graphs), Code(x.f))).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} codes not found: {string.Join(" ", missing.Take(12).Select(m => $"{m.i}/{m.j}"))}");
            Assert.All(codes, c => Assert.True(Holds([.. Files(graphs), .. DatabaseCopies(db)], c)));
            Assert.True(await sharded.RemoveAsync(gone.Name));
            byte[][] saved = [.. Files(graphs), .. DatabaseCopies(db)];
            Assert.Equal(2 * Shards, saved.Length);
            Assert.All(codes, c => Assert.False(Holds(saved, c), "an erased face's code in a saved graph"));
            Assert.All(gone.Faces, f => Assert.False(Holds(saved, MemoryMarshal.AsBytes(f.AsSpan()).ToArray())));
            Assert.True(Holds(saved, Code(people[8].Faces[0]))); // the others' are still there
        }
        finally { await silo.StopAsync(); silo.Dispose(); }
    }
}
