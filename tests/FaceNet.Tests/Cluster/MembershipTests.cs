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
/// PostgreSQL: two silos see each other active, the table refuses a write made against a stale version, and
/// a silo that stops is marked dead for the other.
/// </summary>
[Collection("postgres")]
public sealed class MembershipTests(PostgresServer postgres)
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static IHost Silo(string db, string cluster) => Host.CreateDefaultBuilder()
        .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
        .UseOrleans(s => s
            .Configure<ClusterOptions>(o => { o.ClusterId = cluster; o.ServiceId = "facenet-tests"; })
            .ConfigureEndpoints(IPAddress.Loopback, FreePort(), FreePort())
            .UsePostgresMembership(db, cluster))
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
