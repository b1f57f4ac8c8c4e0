using System.Net;
using System.Net.Sockets;
using FaceNet.Cluster;
using FaceNet.Cluster.Membership;
using FaceNet.Tests.Gallery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;

namespace FaceNet.Tests.Cluster;

/// <summary>
/// Orleans silos agree on who is in the cluster through the membership table kept in the tests' real
/// PostgreSQL: two silos see each other active, the table refuses a write made against a stale version, a
/// silo that stops is marked dead for the other; and a gallery in shards over three silos answers exactly as
/// one process does. (In one test process for now; the failover tests need silos as processes.)
/// </summary>
[Collection("postgres")]
public sealed class ClusterTests(PostgresServer postgres)
{

    private static IHost Silo(string db, string cluster, int shards = 0, FaceNet.Gallery.FaceIndexOptions? index = null) => Host.CreateDefaultBuilder()
        .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
        .UseOrleans(s =>
        {
            s.Configure<ClusterOptions>(o => { o.ClusterId = cluster; o.ServiceId = "facenet-tests"; })
                .ConfigureEndpoints(IPAddress.Loopback, FreePort.Next(), FreePort.Next())
                .UsePostgresMembership(db, cluster);
            if (shards > 0) s.AddGalleryShards(db, shards, index: index);
        })
        .Build();

    private static async Task<SiloAddress[]> Active(IHost host)
    {
        var hosts = await host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        return [.. hosts.Keys];
    }

    [Fact]
    public async Task Two_silos_find_each_other_through_postgres_and_a_stopped_one_is_marked_dead()
    {
        var db = postgres.NewDatabase();
        using var a = Silo(db, "c1");
        using var b = Silo(db, "c1");
        await a.StartAsync();
        await b.StartAsync();
        SiloAddress[] seen = [];
        for (int i = 0; i < 100 && seen.Length < 2; i++)
        {
            seen = await Active(a);
            if (seen.Length < 2) await Task.Delay(200);
        }
        Assert.Equal(2, seen.Length);
        Assert.Equal(2, (await Active(b)).Length);

        // the rows are in PostgreSQL, one per silo, active
        await using (var c = new NpgsqlConnection(db))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM orleans.membership WHERE cluster_id = 'c1' AND status = @active", c);
            cmd.Parameters.AddWithValue("active", (int)SiloStatus.Active);
            Assert.Equal(2L, await cmd.ExecuteScalarAsync());
        }

        await b.StopAsync();
        for (int i = 0; i < 100 && (await Active(a)).Length > 1; i++) await Task.Delay(200);
        Assert.Single(await Active(a));
        await a.StopAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // compact shards: int8 codes in a graph, no float vector in a silo, the merged candidates re-ranked from the store
    public async Task Three_silos_answer_identify_as_one_process_with_exact_search_does(bool compact)
    {
        var db = postgres.NewDatabase();
        var model = new FaceNet.Gallery.GalleryModel("shard-model:01", 32, "fixed", FaceNet.Matching.Metric.Euclidean);
        var r = new Random(7);
        var people = Enumerable.Range(0, 400).Select(i => (Name: $"p{i:D3}", Centre: RandomFaces.Unit(r, 32))).ToList();
        using (var store = FaceNet.Gallery.PostgresGalleryStore.Open(db, model))
            store.EnrollMany(people.Select(p => (p.Name, (IReadOnlyList<FaceNet.Gallery.NewFace>)
                [new FaceNet.Gallery.NewFace(RandomFaces.Near(p.Centre, r, 0.3f)), new FaceNet.Gallery.NewFace(RandomFaces.Near(p.Centre, r, 0.3f))])).ToList());
        using var single = FaceNet.Gallery.FaceGallery.Open(db, model, readOnly: true);
        var index = compact ? new FaceNet.Gallery.FaceIndexOptions { ApproximateFrom = 10 } : null;
        var silos = Enumerable.Range(0, 3).Select(_ => Silo(db, compact ? "c3c" : "c3", shards: 16, index)).ToList();
        foreach (var silo in silos) await silo.StartAsync();
        try
        {
            using var sharded = new FaceNet.Cluster.Shards.ShardedGallery(silos[0].Services.GetRequiredService<IGrainFactory>(),
                FaceNet.Gallery.PostgresGalleryStore.Open(db, model), 16);
            Assert.Equal((400, 800), await sharded.SizeAsync());
            var queries = people.Take(150).Select(p => RandomFaces.Near(p.Centre, r, 0.35f)).Concat(Enumerable.Range(0, 50).Select(_ => RandomFaces.Unit(r, 32)));
            int n = 0;
            foreach (var q in queries)
            {
                var one = single.Identify(q, threshold: 0.9, top: 3);
                var many = await sharded.IdentifyAsync(q, threshold: 0.9, top: 3);
                Assert.Equal(one.Name, many.Name);
                Assert.Equal(one.Known, many.Known);
                Assert.Equal(one.Distance, many.Distance, 6);
                // a stranger's runners-up far off may differ in a compact search; its verdict and best distance may not
                if (!compact || n++ < 150) Assert.Equal(one.Candidates.Select(c => c.Name), many.Candidates.Select(c => c.Name));
            }
            // an enrolment is in its shard when acknowledged, an erasure gone from it
            var newcomer = RandomFaces.Unit(r, 32);
            await sharded.AddFacesAsync("newcomer", [new FaceNet.Gallery.NewFace(newcomer)]);
            Assert.Equal("newcomer", (await sharded.IdentifyAsync(newcomer, 0.9)).Name);
            Assert.Equal((401, 801), await sharded.SizeAsync());
            Assert.True(await sharded.RemoveAsync("p000"));
            Assert.NotEqual("p000", (await sharded.IdentifyAsync(people[0].Centre, 0.9)).Name);
            Assert.Equal((400, 799), await sharded.SizeAsync());
            // the shards are spread over the silos, not all on the one that was asked
            var stats = await silos[0].Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
            Assert.True(stats.Where(s => s.GrainType.Contains("GalleryShard", StringComparison.Ordinal)).Select(s => s.SiloAddress).Distinct().Count() >= 2);
        }
        finally
        {
            foreach (var silo in silos) await silo.StopAsync();
            foreach (var silo in silos) silo.Dispose();
        }
    }

    [Fact]
    public async Task A_write_against_a_stale_version_is_refused()
    {
        var db = postgres.NewDatabase();
        var table = new PostgresMembershipTable(db, "c2");
        await table.InitializeMembershipTable(tryInitTableVersion: true);
        var read = await table.ReadAll();
        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1), Status = SiloStatus.Joining, HostName = "h", SiloName = "s",
            StartTime = DateTime.UtcNow, IAmAliveTime = DateTime.UtcNow, SuspectTimes = [],
        };
        Assert.True(await table.InsertRow(entry, read.Version.Next()));
        Assert.False(await table.InsertRow(entry, read.Version.Next())); // the version has moved on since that read
        var now = await table.ReadAll();
        var (row, etag) = (now.Members[0].Item1, now.Members[0].Item2);
        Assert.Equal(entry.SiloAddress, row.SiloAddress);
        row.Status = SiloStatus.Active;
        Assert.True(await table.UpdateRow(row, etag, now.Version.Next()));
        Assert.False(await table.UpdateRow(row, etag, now.Version.Next().Next())); // an old etag
        Assert.Equal(SiloStatus.Active, (await table.ReadRow(entry.SiloAddress)).Members.Single().Item1.Status);
    }
}
