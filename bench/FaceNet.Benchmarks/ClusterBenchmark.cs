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
    double IdentifyP99Ms, double IdentifyPerSecond, int Clients, double EnrolmentsPerSecond, int Writers, double EraseMs)
{
    /// <summary>Resident bytes of the silo processes (mapped pages included) over the faces they hold.</summary>
    public double BytesPerFace { get; init; }

    /// <summary>Planted mated searches (a real person's other photo) whose answer (name, candidates, distances) equals exact float search's.</summary>
    public int MatedSearches { get; init; }
    public int MatedEqual { get; init; }

    /// <summary>Mated searches whose first answer (name, distance, verdict: what a default identify returns) equals exact float search's.</summary>
    public int MatedFirstEqual { get; init; }

    /// <summary>Strangers' searches (real people not enrolled), and how many the cluster named that exact search did not.</summary>
    public int StrangerSearches { get; init; }
    public int StrangersNamedWrongly { get; init; }

    /// <summary>After kill -9 of one silo: seconds until every planted search is answered as before (0 when not measured).</summary>
    public double FailoverSeconds { get; init; }

    /// <summary>The database's size on disk (PostgreSQL, apart from the silos' memory).</summary>
    public double DatabaseMb { get; init; }
}

/// <summary>The planted searches and what exact float search over the whole gallery answers them (top 3 subjects).</summary>
public sealed record PlantedSearches(IReadOnlyList<float[]> Mated, IReadOnlyList<float[]> Strangers, IReadOnlyList<(string Name, double Distance)[]> MatedExact,
    IReadOnlyList<(string Name, double Distance)[]> StrangersExact, double Threshold);

/// <summary>
/// `facenet bench cluster`: synthetic unit vectors (one face per subject) in a PostgreSQL gallery, served by
/// silos started as processes of their own (<c>facenet cluster silo</c>), asked by this process as an Orleans
/// client (it holds no shard): what sharding costs and gives on this machine.
/// </summary>
public static class ClusterBenchmark
{
    /// <summary>
    /// Makes the benchmark's gallery ready: face-like synthetic faces shaped on <paramref name="real"/> people, the shard
    /// layout fixed, the gallery filled up to <paramref name="faces"/> (kept when it holds them already), and the planted
    /// searches answered by exact float search over the whole of it.
    /// </summary>
    public static PlantedSearches Prepare(string db, RealFaces real, double threshold, int faces, int dimensions, int shards, Action<string> progress)
    {
        var shape = FaceLikeFaces.Fit(real);
        progress($"face-like synthetic faces: same person {shape.SyntheticWithin:F3} apart (LFW {shape.RealWithin:F3}), two people "
            + $"{shape.SyntheticBetween:F3} (LFW {shape.RealBetween:F3}); threshold {threshold:F3}");
        ShardLayout.Fix(db, shards);
        double fill = Fill(db, faces, shape, real, dimensions, progress);
        if (fill > 0) progress($"gallery filled in {fill:F0} s");
        return Exact(db, real, 500, 300, threshold, progress);
    }

    /// <summary>Subject i of the synthetic gallery has this many faces (1 or 2: a third of them 2).</summary>
    public static int FacesOf(long subject) => subject % 3 == 0 ? 2 : 1;

    /// <summary>
    /// Fills the gallery up to <paramref name="faces"/> faces: first the planted real people (one photo each, named
    /// <c>lfw-…</c>), then synthetic subjects shaped like faces by <paramref name="shape"/> (1 or 2 faces each); the
    /// seconds it took (0 when it held them already).
    /// </summary>
    public static double Fill(string db, int faces, FaceLikeFaces shape, RealFaces real, int dimensions, Action<string> progress)
    {
        var model = new GalleryModel($"synthetic-{dimensions}:bench", dimensions, "none", Matching.Metric.Euclidean);
        using var store = PostgresGalleryStore.Open(db, model);
        long have = Count(db);
        if (have >= faces) return 0;
        var sw = Stopwatch.StartNew();
        if (have == 0)
        {
            var planted = Planted(real).Select(p => ($"lfw-{real.People[p.Person]}", (IReadOnlyList<NewFace>)[new NewFace(p.Enrolled)])).ToList();
            store.EnrollMany(planted);
            have = planted.Count;
        }
        long subject = SubjectsFilled(db);
        const int Batch = 20_000;
        int batches = 0;
        while (have < faces)
        {
            var people = new List<(string, IReadOnlyList<NewFace>)>();
            for (int n = 0; n < Batch && have < faces; subject++)
            {
                int k = (int)Math.Min(FacesOf(subject), faces - have);
                people.Add(($"s{subject:D9}", [.. Enumerable.Range(0, k).Select(i => new NewFace(shape.Face(subject, i)))]));
                n += k;
                have += k;
            }
            store.EnrollMany(people);
            if (batches++ % 10 == 0) progress($"filled {have} of {faces} faces");
        }
        return sw.Elapsed.TotalSeconds;
    }

    private static long SubjectsFilled(string db)
    {
        using var c = new NpgsqlConnection(db);
        c.Open();
        using var cmd = new NpgsqlCommand("SELECT count(*) FROM facenet.subjects WHERE name LIKE 's%'", c);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>The real people planted in the gallery (every other one with two photos or more: the first photo enrolled, the second a mated search).</summary>
    public static List<(int Person, float[] Enrolled, float[] Probe)> Planted(RealFaces real)
        => [.. real.Faces.GroupBy(f => f.Person).Where(g => g.Count() >= 2).OrderBy(g => g.Key).Where((g, i) => i % 2 == 0)
            .Select(g => (g.Key, g.First().Vector, g.Skip(1).First().Vector))];

    /// <summary>Real people left out of the gallery: one photo each of the others with two photos or more, and of everyone with one.</summary>
    public static List<float[]> Strangers(RealFaces real)
    {
        var planted = Planted(real).Select(p => p.Person).ToHashSet();
        return [.. real.Faces.GroupBy(f => f.Person).Where(g => !planted.Contains(g.Key)).OrderBy(g => g.Key).Select(g => g.First().Vector)];
    }

    /// <summary>
    /// What exact float search over the whole gallery answers each planted search: its best 3 subjects at their nearest faces,
    /// by a scan of every face in the database (streamed, a batch at a time; the probes all at once).
    /// </summary>
    public static PlantedSearches Exact(string db, RealFaces real, int mated, int strangers, double threshold, Action<string> progress)
    {
        var m = Planted(real).Take(mated).Select(p => p.Probe).ToList();
        var s = Strangers(real).Take(strangers).ToList();
        var probes = m.Concat(s).ToArray();
        int dim = probes[0].Length;
        const int K = 8;
        var best = probes.Select(_ => new List<(double D, long Subject)>(K + 1)).ToArray();
        var sw = Stopwatch.StartNew();
        using (var c = new NpgsqlConnection(db))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("SELECT subject_id, embedding FROM facenet.faces", c) { CommandTimeout = 0 };
            using var r = cmd.ExecuteReader();
            var subjects = new List<long>();
            var rows = new List<float[]>();
            void Flush()
            {
                Parallel.For(0, probes.Length, p =>
                {
                    var list = best[p];
                    double worst = list.Count < K ? double.PositiveInfinity : list[^1].D;
                    for (int i = 0; i < rows.Count; i++)
                    {
                        double d = FaceIndex.Distance(Matching.Metric.Euclidean, probes[p], rows[i]);
                        if (d >= worst) continue;
                        int at = list.FindIndex(x => x.D > d || (x.D == d && x.Subject > subjects[i]));
                        list.Insert(at < 0 ? list.Count : at, (d, subjects[i]));
                        if (list.Count > K) list.RemoveAt(K);
                        worst = list.Count < K ? double.PositiveInfinity : list[^1].D;
                    }
                });
                subjects.Clear();
                rows.Clear();
            }
            long seen = 0;
            while (r.Read())
            {
                subjects.Add(r.GetInt64(0));
                rows.Add(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(r.GetFieldValue<byte[]>(1)).ToArray());
                if (rows.Count == 16_384) Flush();
                if (++seen % 1_000_000 == 0) progress($"exact search: {seen} faces scanned ({sw.Elapsed.TotalSeconds:F0} s)");
            }
            Flush();
        }
        var names = new Dictionary<long, string>();
        using (var c = new NpgsqlConnection(db))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("SELECT id, name FROM facenet.subjects WHERE id = ANY(@ids)", c);
            cmd.Parameters.AddWithValue("ids", best.SelectMany(b => b.Select(x => x.Subject)).Distinct().ToArray());
            using var r = cmd.ExecuteReader();
            while (r.Read()) names[r.GetInt64(0)] = r.GetString(1);
        }
        var answers = best.Select(b => b.GroupBy(x => x.Subject).Select(g => (Name: names[g.Key], Distance: g.Min(x => x.D), Id: g.Key))
            .OrderBy(x => x.Distance).ThenBy(x => x.Id).Take(3).Select(x => (x.Name, x.Distance)).ToArray()).ToList();
        progress($"exact answers of {probes.Length} planted searches in {sw.Elapsed.TotalSeconds:F0} s");
        return new PlantedSearches(m, s, answers.Take(m.Count).ToList(), answers.Skip(m.Count).ToList(), threshold);
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
        Func<string, int, int, ProcessStartInfo> siloCommand, Action<string> progress, PlantedSearches? planted = null, bool failover = false)
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
                .Configure<Orleans.Configuration.ClientMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromMinutes(60)));
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
            var probes = planted is not null ? [.. planted.Mated, .. planted.Strangers] : Enumerable.Range(0, Math.Min(queries, 1000)).Select(_ => Unit(r, dim)).ToArray();
            double threshold = planted?.Threshold ?? 1.0;
            for (int i = 0; i < Math.Min(5, probes.Length); i++) await gallery.IdentifyAsync(probes[i], threshold, 3); // warm
            var latencies = new List<double>();
            int next = -1;
            sw.Restart();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                int q;
                while ((q = Interlocked.Increment(ref next)) < queries)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await gallery.IdentifyAsync(probes[q % probes.Length], threshold, 3);
                    double ms = Timing.Milliseconds(Stopwatch.GetTimestamp() - t0);
                    lock (latencies) latencies.Add(ms);
                }
            })));
            double qps = queries / sw.Elapsed.TotalSeconds;

            // the planted searches against exact float search: mated answers equal (name, candidates, distances), no stranger named wrongly
            int matedEqual = 0, matedFirst = 0, strangersWrong = 0;
            var answers = new List<Identification>();
            if (planted is not null)
            {
                for (int i = 0; i < planted.Mated.Count; i++)
                {
                    var got = await gallery.IdentifyAsync(planted.Mated[i], threshold, 3);
                    answers.Add(got);
                    var want = planted.MatedExact[i];
                    if (got.Candidates.Count > 0 && want.Length > 0 && got.Candidates[0].Name == want[0].Name
                        && Math.Abs(got.Candidates[0].Distance - want[0].Distance) < 1e-5 && got.Known == (want[0].Distance <= threshold)) matedFirst++;
                    if (got.Candidates.Count == want.Length && got.Candidates.Zip(want).All(x => x.First.Name == x.Second.Name
                        && Math.Abs(x.First.Distance - x.Second.Distance) < 1e-5)) matedEqual++;
                    else if (i - matedEqual < 5)
                        progress($"  mated search {i}: exact {string.Join(", ", want.Select(w => $"{w.Name} {w.Distance:F4}"))}; "
                            + $"cluster {string.Join(", ", got.Candidates.Select(c => $"{c.Name} {c.Distance:F4}"))}");
                }
                for (int i = 0; i < planted.Strangers.Count; i++)
                {
                    var got = await gallery.IdentifyAsync(planted.Strangers[i], threshold, 3);
                    var want = planted.StrangersExact[i];
                    bool exactNames = want.Length > 0 && want[0].Distance <= threshold;
                    if (got.Known && (!exactNames || got.Name != want[0].Name)) strangersWrong++;
                }
                progress($"{silos} silo(s): {matedEqual} of {planted.Mated.Count} mated searches as exact search ({matedFirst} with the same first answer); {strangersWrong} of {planted.Strangers.Count} strangers named wrongly");
            }

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
            double bytesPerFace = state.Silos.Sum(s => (double)s.MemoryBytes) / Math.Max(1, state.Silos.Sum(s => s.Faces));

            // failover: one silo killed (SIGKILL), then the planted mated searches asked until every one is answered as before
            double failoverSeconds = 0;
            if (failover && processes.Count > 1 && planted is not null && answers.Count > 0)
            {
                var victim = processes[^1];
                var killed = Stopwatch.StartNew();
                victim.Kill(true);
                progress($"{silos} silo(s): one killed (kill -9); waiting for whole answers");
                var sample = Enumerable.Range(0, Math.Min(50, answers.Count)).ToList();
                while (killed.Elapsed < TimeSpan.FromMinutes(30))
                {
                    bool whole = true;
                    try
                    {
                        var now = await Task.WhenAll(sample.Select(i => gallery.IdentifyAsync(planted.Mated[i], threshold, 3))).WaitAsync(TimeSpan.FromSeconds(20));
                        for (int i = 0; i < sample.Count && whole; i++)
                            whole = now[i].Candidates.Select(c => c.Name).SequenceEqual(answers[sample[i]].Candidates.Select(c => c.Name));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException) { whole = false; }
                    if (whole) break;
                    await Task.Delay(250);
                }
                failoverSeconds = killed.Elapsed.TotalSeconds;
                progress($"{silos} silo(s): answers whole again {failoverSeconds:F1} s after the kill");
            }
            double dbMb;
            using (var c = new NpgsqlConnection(db))
            {
                c.Open();
                using var cmd = new NpgsqlCommand("SELECT pg_database_size(current_database())", c);
                dbMb = (long)cmd.ExecuteScalar()! / (1024.0 * 1024);
            }
            await client.StopAsync();
            return new ClusterFigures(silos, faces, shards, load, perSilo, Timing.Quantile(latencies, 0.5), Timing.Quantile(latencies, 0.99), qps,
                clients, eps, writers, Timing.Quantile(erasures, 0.5))
            {
                BytesPerFace = bytesPerFace, MatedSearches = planted?.Mated.Count ?? 0, MatedEqual = matedEqual, MatedFirstEqual = matedFirst, StrangerSearches = planted?.Strangers.Count ?? 0,
                StrangersNamedWrongly = strangersWrong, FailoverSeconds = failoverSeconds, DatabaseMb = dbMb,
            };
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
