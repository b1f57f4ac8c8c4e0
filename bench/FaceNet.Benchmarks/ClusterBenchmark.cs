using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FaceNet.Cluster;
using FaceNet.Cluster.Shards;
using FaceNet.Embedding;
using FaceNet.Gallery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans;
using Orleans.Runtime;

namespace FaceNet.Benchmarks;

/// <summary>One silo of a run: the shards and faces it held, its process's resident memory.</summary>
public sealed record SiloFigures(string Address, int Shards, int Faces, double MemoryMb);

/// <summary>A gallery in shards over some silos: loading, identify latency and throughput, enrolment throughput.</summary>
public sealed record ClusterFigures(int Silos, int Faces, int Shards, double LoadSeconds, IReadOnlyList<SiloFigures> PerSilo, double IdentifyP50Ms,
    double IdentifyP99Ms, double IdentifyPerSecond, int Clients, double EnrolmentsPerSecond, int Writers, double EraseMs);

/// <summary>
/// `facenet bench cluster`: synthetic unit vectors (one face per subject) in a PostgreSQL gallery, served by
/// silos started as processes of their own (<c>facenet cluster silo</c>), asked by this process as an Orleans
/// client (it holds no shard): what sharding costs and gives on this machine.
/// </summary>
public static class ClusterBenchmark
{
    /// <summary>Fills the gallery with synthetic faces up to <paramref name="faces"/>; the seconds it took (0 when it held them already).</summary>
    public static double Fill(string db, int faces, int dimensions, Action<string> progress)
    {
        var model = new GalleryModel($"synthetic-{dimensions}:bench", dimensions, "none", Matching.Metric.Euclidean);
        using var store = PostgresGalleryStore.Open(db, model);
        long have = Count(db);
        if (have >= faces) return 0;
        var sw = Stopwatch.StartNew();
        var r = new Random((int)have + 1);
        const int Batch = 20_000;
        for (long done = have; done < faces; done += Batch)
        {
            int n = (int)Math.Min(Batch, faces - done);
            store.EnrollMany(Enumerable.Range(0, n).Select(i => ($"s{done + i:D9}", (IReadOnlyList<NewFace>)[new NewFace(Unit(r, dimensions))])).ToList());
            if ((done / Batch) % 10 == 0) progress($"filled {done + n} of {faces} faces");
        }
        return sw.Elapsed.TotalSeconds;
    }

    private static long Count(string db)
    {
        using var c = new NpgsqlConnection(db);
        c.Open();
        using var cmd = new NpgsqlCommand("SELECT count(*) FROM facenet.faces", c);
        return (long)cmd.ExecuteScalar()!;
    }

    private static float[] Unit(Random r, int dim)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++) v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        L2.NormalizeInPlace(v);
        return v;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts <paramref name="silos"/> silo processes (<paramref name="siloCommand"/> gives the program and its
    /// arguments for a silo port and a gateway port), waits for them, then times identify from
    /// <paramref name="clients"/> concurrent callers and enrolment from <paramref name="writers"/>.
    /// </summary>
    public static async Task<ClusterFigures> RunAsync(string db, int silos, int queries, int clients, int writers, TimeSpan enrolFor,
        Func<string, int, int, ProcessStartInfo> siloCommand, Action<string> progress)
    {
        // a cluster of its own per run: the silos of the last run are dead rows, not members
        var clusterId = "bench" + Guid.NewGuid().ToString("N")[..8];
        var processes = new List<Process>();
        var sw = Stopwatch.StartNew(); // the silos load their shards as they start: "load" is from their launch to every shard answering
        try
        {
            for (int i = 0; i < silos; i++) processes.Add(StartSilo(siloCommand(clusterId, FreePort(), FreePort())));
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
            builder.Logging.ClearProviders();
            // a shard's first call loads it (a silo loads its own at start too): long at a million faces on one silo
            builder.UseOrleansClient(c => c.UsePostgresGateways(db, clusterId)
                .Configure<Orleans.Configuration.ClientMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromMinutes(5)));
            using var client = builder.Build();
            await client.StartAsync();
            var grains = client.Services.GetRequiredService<IClusterClient>();
            int shards = ShardLayout.Fix(db, FaceClusterOptions.DefaultShards);
            using var gallery = new ShardedGallery(grains, PostgresGalleryStore.Open(db, null), shards);
            for (int i = 0; i < 600 && (await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count < silos; i++) await Task.Delay(100);

            var (_, faces) = await gallery.SizeAsync(); // every shard is active: its faces read from PostgreSQL
            double load = sw.Elapsed.TotalSeconds;
            progress($"{silos} silo(s): started, {faces} faces loaded into {shards} shards, in {load:F1} s");
            // silos that joined last are still taking their shards over: the timing starts once the placement holds for a second
            string Placement(ClusterState s) => string.Join(",", s.Shards.Select(x => x.Silo));
            var before = Placement(await ClusterState.ReadAsync(grains, shards));
            for (int i = 0; i < 120; i++)
            {
                await Task.Delay(1000);
                var now = Placement(await ClusterState.ReadAsync(grains, shards));
                if (now == before) break;
                before = now;
            }
            int dim = gallery.Store.Model.EmbeddingSize;

            var r = new Random(5);
            var probes = Enumerable.Range(0, Math.Min(queries, 1000)).Select(_ => Unit(r, dim)).ToArray();
            for (int i = 0; i < Math.Min(5, probes.Length); i++) await gallery.IdentifyAsync(probes[i], 1.0, 3); // warm
            var latencies = new List<double>();
            int next = -1;
            sw.Restart();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                int q;
                while ((q = Interlocked.Increment(ref next)) < queries)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await gallery.IdentifyAsync(probes[q % probes.Length], 1.0, 3);
                    double ms = Timing.Milliseconds(Stopwatch.GetTimestamp() - t0);
                    lock (latencies) latencies.Add(ms);
                }
            })));
            double qps = queries / sw.Elapsed.TotalSeconds;

            var enrolled = new System.Collections.Concurrent.ConcurrentBag<string>();
            using (var stop = new CancellationTokenSource(enrolFor))
            {
                sw.Restart();
                await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
                {
                    var wr = new Random(100 + w);
                    for (int i = 0; !stop.IsCancellationRequested; i++)
                    {
                        var name = $"bench-{clusterId}-{w}-{i}";
                        await gallery.AddFacesAsync(name, [new NewFace(Unit(wr, dim))]);
                        enrolled.Add(name);
                    }
                })));
            }
            double eps = enrolled.Count / sw.Elapsed.TotalSeconds;
            // erasure (rows deleted, then VACUUM so their bytes leave the data files, then the shard): a few of them, timed
            var erasures = new List<double>();
            foreach (var name in enrolled.Take(5))
            {
                long t0 = Stopwatch.GetTimestamp();
                await gallery.RemoveAsync(name);
                erasures.Add(Timing.Milliseconds(Stopwatch.GetTimestamp() - t0));
            }

            var state = await ClusterState.ReadAsync(grains, shards);
            var perSilo = state.Silos.Select(s => new SiloFigures(s.Address, s.Shards.Count, s.Faces, s.MemoryBytes / (1024.0 * 1024))).ToList();
            await client.StopAsync();
            return new ClusterFigures(silos, faces, shards, load, perSilo, Timing.Quantile(latencies, 0.5), Timing.Quantile(latencies, 0.99), qps,
                clients, eps, writers, Timing.Quantile(erasures, 0.5));
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill(true);
                p.WaitForExit(10_000);
                p.Dispose();
            }
        }
    }

    private static Process StartSilo(ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var p = Process.Start(psi)!;
        var ready = new TaskCompletionSource<string>();
        _ = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync() is { } l)
                if (l.StartsWith("silo ", StringComparison.Ordinal)) ready.TrySetResult(l);
            ready.TrySetException(new InvalidOperationException("a silo ended before it was ready"));
        });
        var errors = new System.Text.StringBuilder();
        _ = Task.Run(async () => { while (await p.StandardError.ReadLineAsync() is { } l) lock (errors) errors.AppendLine(l); });
        if (!ready.Task.Wait(TimeSpan.FromSeconds(120)) || ready.Task.IsFaulted)
        {
            if (!p.HasExited) p.Kill(true);
            lock (errors) throw new InvalidOperationException("a silo did not start: " + errors);
        }
        return p;
    }
}
