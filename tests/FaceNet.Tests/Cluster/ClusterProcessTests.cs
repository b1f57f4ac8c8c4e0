using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Tests.Gallery;
using FaceNet.Tests.Service;
using Xunit.Abstractions;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Cluster;

/// <summary>
/// `facenet serve --cluster` processes as the silos of one cluster over the tests' real PostgreSQL: they answer
/// identify exactly as one process does; one killed with SIGKILL under a mixed load loses no acknowledged
/// enrolment, brings back no erased subject, and the others answer correctly again within a bound; a fourth
/// that joins takes shards over without changing an answer; a PostgreSQL restart under load gives 503s while
/// the database is away and nothing acknowledged is lost.
/// </summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
[Collection("postgres")]
public sealed class ClusterProcessTests(PostgresServer postgres, ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-cluster-").FullName;
    private readonly List<ServeProcess> _silos = [];
    private static readonly Lazy<FaceNet.Models.ModelInfo> Info = new(() =>
    {
        using var faces = FaceRecognizer.Create();
        return faces.Model.Info;
    });

    public void Dispose()
    {
        foreach (var s in _silos) s.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }


    private readonly Dictionary<ServeProcess, int> _siloPorts = [];

    private ServeProcess Silo(string db, params string[] extra)
    {
        int port = FreePort.Next();
        var s = ServeProcess.Start(_dir, db, ["--cluster", "--cluster-id", "t" + Path.GetFileName(_dir)[^6..].ToLowerInvariant(), "--shards", "16",
            "--silo-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), "--workers", "1",
            .. extra.Length > 0 ? extra : ["--graph-dir", Path.Combine(_dir, "graphs-" + _silos.Count)]]);
        _silos.Add(s);
        _siloPorts[s] = port;
        return s;
    }

    private int ShardsOn(JsonElement state, ServeProcess silo)
        => state.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("address").GetString()!.EndsWith($":{_siloPorts[silo]}", StringComparison.Ordinal))
            .Select(s => s.GetProperty("shards").GetArrayLength()).SingleOrDefault();

    // a gallery that is large enough for the open-set rule to sample its own people (600 synthetic subjects), and four real ones
    private static readonly (string Name, string Photo)[] People = [("ada", "img1.jpg"), ("ben", "img3.jpg"), ("cy", "img8.jpg"), ("dee", "img16.jpg")];
    private static readonly string[] Probes = ["img2.jpg", "img12.jpg", "img9.jpg", "img17.jpg", "couple.jpg", "img4.jpg"];

    private static void AddStrangers(string db, int count, int seed)
    {
        using var store = PostgresGalleryStore.Open(db, null);
        var r = new Random(seed);
        store.EnrollMany(Enumerable.Range(0, count).Select(i => ($"synthetic{seed}-{i:D4}",
            (IReadOnlyList<NewFace>)[new NewFace(RandomFaces.Unit(r, store.Model.EmbeddingSize))])).ToList());
    }

    // each face's embedding and yaw (the pose-aware rule holds candidates to the band of their pose difference)
    private static async Task<(float[] Vector, double? Yaw)[]> Embed(ServeProcess s, string key, string photo)
    {
        var (status, body) = await s.Post("/v1/embed", key, Form(("image", Face(photo))));
        Assert.Equal(200, status);
        return [.. body.GetProperty("faces").EnumerateArray().Select(f => (f.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray(),
            f.TryGetProperty("pose", out var p) && p.ValueKind == System.Text.Json.JsonValueKind.Object ? p.GetProperty("yaw").GetDouble() : (double?)null))];
    }

    /// <summary>
    /// Each probe's answer from every silo equals the one a single FaceGallery (exact search) gives over the same store:
    /// the candidates, their distances, the comparisons counted. The threshold too for the silos in <paramref name="fresh"/>;
    /// the others measured the gallery's own people earlier, and keep that sample (as a FaceGallery does) until the
    /// subjects change by a twentieth: their verdict must follow their own threshold.
    /// </summary>
    private static async Task AnswersAsOneProcess(string db, string key, IReadOnlyList<ServeProcess> silos, IReadOnlyList<ServeProcess>? fresh = null)
    {
        fresh ??= silos;
        using var single = FaceGallery.Open(PostgresGalleryStore.Open(db, null, readOnly: true));
        foreach (var probe in Probes)
        {
            var vectors = await Embed(silos[0], key, probe);
            var expected = vectors.Select(v => single.Identify(v.Vector, Info.Value, new IdentifyOptions { Top = 3, Yaw = v.Yaw })).ToList();
            foreach (var silo in silos)
            {
                var (status, body) = await silo.Post("/v1/identify", key, Form(("image", Face(probe))));
                Assert.Equal(200, status);
                var faces = body.GetProperty("faces").EnumerateArray().ToList();
                Assert.Equal(expected.Count, faces.Count);
                for (int i = 0; i < faces.Count; i++)
                {
                    var (want, got) = (expected[i], faces[i]);
                    double threshold = got.GetProperty("threshold").GetDouble();
                    if (fresh.Contains(silo)) Assert.Equal(Math.Round(want.Threshold, 6), threshold, 6);
                    Assert.Equal(want.Distance <= threshold ? want.Candidates[0].Name : null, got.GetProperty("name").GetString());
                    if (fresh.Contains(silo))
                        Assert.Equal(want.Candidates.Select(c => Math.Round(c.Threshold, 6)), got.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("threshold").GetDouble()));
                    Assert.Equal(want.Rule!.Comparisons, got.GetProperty("comparisons").GetInt64());
                    Assert.Equal(want.Candidates.Select(c => c.Name), got.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
                    Assert.Equal(want.Distance, got.GetProperty("distance").GetDouble(), 1e-6); // the answer rounds to 6 decimals: within 5e-7
                }
            }
        }
    }

    private static async Task<JsonElement> ClusterState(ServeProcess s, string key)
    {
        var (status, body) = await s.Send(HttpMethod.Get, "/v1/cluster", key);
        Assert.Equal(200, status);
        return body;
    }

    [Fact]
    public async Task Silos_answer_as_one_process_lose_nothing_to_kill_9_and_take_in_a_fourth()
    {
        var db = postgres.NewDatabase();
        var key = ServeProcess.AddKey(_dir);
        var a = Silo(db);
        AddStrangers(db, 600, 1);
        var b = Silo(db);
        var c = Silo(db);
        var silos = new[] { a, b, c };
        for (int i = 0; i < People.Length; i++)
        {
            var (status, _) = await silos[i % 3].Post($"/v1/subjects/{People[i].Name}/faces", key, Form(("image", Face(People[i].Photo))));
            Assert.Equal(201, status);
        }
        var state = await ClusterState(a, key);
        Assert.Equal(3, state.GetProperty("silos").GetArrayLength());
        Assert.Equal(604, state.GetProperty("subjects").GetInt32());
        Assert.All(state.GetProperty("silos").EnumerateArray(), s => Assert.True(s.GetProperty("shards").GetArrayLength() > 0));
        await AnswersAsOneProcess(db, key, silos);
        var listed = FaceNet.Tests.Cli.CliRunner.Run("cluster", "status", "--url", b.Address, "--key", key);
        Assert.Equal(0, listed.ExitCode);
        Assert.StartsWith("3 silo(s), 16 shards, 604 subject(s), 604 face(s)", listed.OutLines[0]);
        Assert.Equal(3, listed.OutLines.Count(l => l.Contains(" active ", StringComparison.Ordinal)));

        // a mixed load on a and b: enrolments (some then erased) and identifications; c is killed under it
        var acknowledged = new List<string>();
        var erased = new Dictionary<string, DateTime>(); // when the 204 came
        var refusedErasures = new List<string>(); // a write the store took must not be answered as failed because a shard's silo died
        var identified = new List<(DateTime Asked, DateTime At, bool Right, string[] Candidates)>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = $"w{i:D3}";
                var (status, _) = await silos[i % 2].Post($"/v1/subjects/{name}/faces?allow_duplicate=true", key, Form(("image", Face(People[i % 4].Photo))));
                if (status != 201) continue;
                lock (acknowledged) acknowledged.Add(name);
                if (i % 3 != 0) continue;
                int erasing = (await silos[(i + 1) % 2].Send(HttpMethod.Delete, $"/v1/subjects/{name}", key)).Status;
                if (erasing == 204) lock (erased) erased[name] = DateTime.UtcNow;
                else lock (refusedErasures) refusedErasures.Add($"{name}: {erasing}");
            }
        });
        // ben's photo, and the w-subjects enrolled from it: one of them is the nearest (the verdict moves with the
        // threshold, which the copies of four photos pull down; the search must not lose a shard's candidates)
        var bens = new HashSet<string> { "ben" };
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var asked = DateTime.UtcNow;
                var (status, body) = await a.Post("/v1/identify", key, Form(("image", Face("img12.jpg"))));
                string[] candidates = status == 200
                    ? [.. body.GetProperty("faces")[0].GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)] : [];
                bool right = candidates.Length > 0 && (candidates[0] == "ben" || (candidates[0].StartsWith('w') && int.Parse(candidates[0][1..]) % 4 == 1));
                lock (identified) identified.Add((asked, DateTime.UtcNow, right, candidates));
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(4));
        var killed = DateTime.UtcNow;
        c.Process.Kill(entireProcessTree: true); // SIGKILL: no leaving the cluster, no hand-over
        await Task.Delay(TimeSpan.FromSeconds(12));
        stop.Cancel();
        await Task.WhenAll(writer, reader);

        // identify answers correctly again within a bound: the first right answer after the kill after which all are right
        var after = identified.Where(x => x.At > killed).Select(x => (x.At, x.Right)).ToList();
        Assert.NotEmpty(after);
        int lastWrong = after.FindLastIndex(x => !x.Right);
        Assert.True(lastWrong < after.Count - 1, "identify did not answer correctly again after the kill");
        var recovered = (lastWrong < 0 ? after[0].At : after[lastWrong + 1].At) - killed;
        output.WriteLine($"failover: identify right again {recovered.TotalSeconds:F1} s after kill -9 ({after.Count(x => !x.Right)} answers failed)");
        Assert.True(recovered < TimeSpan.FromSeconds(10), $"identify took {recovered.TotalSeconds:F1} s to recover");

        // nothing erased came back: no answer named a subject erased before it was asked
        foreach (var x in identified)
            foreach (var n in x.Candidates)
                Assert.False(erased.TryGetValue(n, out var gone) && gone < x.Asked, $"{n} was erased at {gone:HH:mm:ss.fff} and a search at {x.Asked:HH:mm:ss.fff} named it");
        // every erasure was answered as done: the store commits first, so a refusal would be a lie about a kept change
        Assert.Empty(refusedErasures);
        // nothing acknowledged is lost: in the store, and in the shards' memory (their count)
        var kept = acknowledged.Except(erased.Keys).ToHashSet();
        using (var store = PostgresGalleryStore.Open(db, null, readOnly: true))
        {
            var names = store.Subjects().Select(s => s.Name).ToHashSet();
            Assert.Subset(names, kept);
            Assert.Empty(names.Intersect(erased.Keys));
        }
        state = await ClusterState(a, key);
        Assert.Equal(2, state.GetProperty("silos").GetArrayLength());
        Assert.Equal(604 + kept.Count, state.GetProperty("subjects").GetInt32());
        await AnswersAsOneProcess(db, key, [a, b], fresh: []);

        // a fourth silo takes shards over; the answers do not change
        var d = Silo(db);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            state = await ClusterState(a, key);
            if (state.GetProperty("silos").GetArrayLength() == 3 && ShardsOn(state, d) > 0) break;
            await Task.Delay(500);
        }
        Assert.Equal(3, state.GetProperty("silos").GetArrayLength());
        Assert.True(ShardsOn(state, d) > 0, "the fourth silo holds no shard");
        Assert.Equal(604 + kept.Count, state.GetProperty("subjects").GetInt32());
        await AnswersAsOneProcess(db, key, [a, b, d], fresh: [d]);
    }

    [Fact]
    public async Task A_second_tenant_is_served_by_the_cluster_in_shards_of_its_own_isolated_from_the_first()
    {
        var db = postgres.NewDatabase();
        var root = ServeProcess.AddKey(_dir);
        var graphs = new[] { Path.Combine(_dir, "ga"), Path.Combine(_dir, "gb") };
        var a = Silo(db, "--graph-dir", graphs[0], "--graph-from", "1");
        var b = Silo(db, "--graph-dir", graphs[1], "--graph-from", "1");
        Assert.Equal(201, (await a.Send(HttpMethod.Post, "/v1/tenants/acme", root)).Status);
        Assert.Equal(409, (await b.Send(HttpMethod.Post, "/v1/tenants/acme", root)).Status);
        var made = FaceNet.Tests.Cli.CliRunner.Run("keys", "add", "acme-admin", "--tenant", "acme", "--scopes", "admin", "--keys", Path.Combine(_dir, "keys.json"));
        Assert.Equal(0, made.ExitCode);
        var acme = made.OutLines[^1];
        await Task.Delay(1500); // the keys file is re-read when it changes

        Assert.Equal(201, (await a.Post("/v1/subjects/ada/faces", root, Form(("image", Face("img1.jpg"))))).Status);
        Assert.Equal(201, (await b.Post("/v1/subjects/ben/faces", acme, Form(("image", Face("img3.jpg"))))).Status);
        foreach (var silo in new[] { a, b })
        {
            // each key finds its own tenant's subject, and never the other's
            var (status, body) = await silo.Post("/v1/identify", acme, Form(("image", Face("img12.jpg"))));
            Assert.Equal(200, status);
            Assert.Equal("ben", body.GetProperty("faces")[0].GetProperty("name").GetString());
            Assert.Equal(1, body.GetProperty("subjects").GetInt32());
            (status, body) = await silo.Post("/v1/identify", root, Form(("image", Face("img12.jpg"))));
            Assert.Equal(200, status);
            Assert.DoesNotContain(body.GetProperty("faces")[0].GetProperty("candidates").EnumerateArray(), c => c.GetProperty("name").GetString() == "ben");
            (status, body) = await silo.Send(HttpMethod.Get, "/v1/subjects", acme);
            Assert.Equal(["ben"], body.GetProperty("subjects").EnumerateArray().Select(x => x.GetProperty("name").GetString()));
        }
        // the cluster lists each tenant's shards: 16 each, spread over both silos, compact and saved
        var state = await ClusterState(a, root);
        var shards = state.GetProperty("shards").EnumerateArray().ToList();
        Assert.Equal(16, shards.Count(x => x.GetProperty("tenant").GetString() == "acme"));
        Assert.Equal(16, shards.Count(x => x.GetProperty("tenant").GetString() == "default"));
        Assert.Equal(2, shards.Where(x => x.GetProperty("tenant").GetString() == "acme").Select(x => x.GetProperty("silo").GetString()).Distinct().Count());
        Assert.Contains(shards, x => x.GetProperty("tenant").GetString() == "acme" && x.GetProperty("faces").GetInt32() == 1
            && x.GetProperty("graph").GetString() == "built");
        Assert.Contains(graphs, g => Directory.Exists(g) && Directory.EnumerateDirectories(g, "facenet_acme", SearchOption.AllDirectories).Any());

        // removed: its key finds no tenant, its schema and its graph files are gone, the default tenant is untouched
        Assert.Equal(204, (await b.Send(HttpMethod.Delete, "/v1/tenants/acme", root)).Status);
        Assert.Equal(404, (await b.Post("/v1/identify", acme, Form(("image", Face("img12.jpg"))))).Status);
        Assert.False(GalleryTenants.Exists(db, "acme"));
        Assert.All(graphs.Where(Directory.Exists), g => Assert.Empty(Directory.EnumerateDirectories(g, "facenet_acme", SearchOption.AllDirectories)));
        var (st, answer) = await a.Post("/v1/identify", root, Form(("image", Face("img2.jpg"))));
        Assert.Equal(200, st);
        Assert.Equal("ada", answer.GetProperty("faces")[0].GetProperty("name").GetString());
    }

    [Fact]
    public void A_cluster_needs_postgres_and_its_status_a_reachable_service_and_a_key()
    {
        var serve = FaceNet.Tests.Cli.CliRunner.Run("serve", "--cluster", "-g", Path.Combine(_dir, "g.db"), "--keys", Path.Combine(_dir, "keys.json"));
        Assert.Equal(1, serve.ExitCode);
        Assert.Contains("a cluster keeps its gallery in PostgreSQL", serve.Err);
        var silo = FaceNet.Tests.Cli.CliRunner.Run("cluster", "silo", "-g", Path.Combine(_dir, "g.db"));
        Assert.Equal(1, silo.ExitCode);
        var unreachable = FaceNet.Tests.Cli.CliRunner.Run("cluster", "status", "--url", $"http://127.0.0.1:{FreePort.Next()}", "--key", "k");
        Assert.Equal(2, unreachable.ExitCode);
        Assert.Contains("cannot reach the service", unreachable.Err);
    }

    [Fact]
    public async Task A_postgres_restart_under_load_gives_503s_and_loses_nothing_acknowledged()
    {
        var db = postgres.NewDatabase();
        var key = ServeProcess.AddKey(_dir);
        var a = Silo(db);
        var b = Silo(db);
        var acknowledged = new List<string>();
        var statuses = new List<(DateTime At, int Status)>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = $"r{i:D3}";
                int status;
                try { status = (await (i % 2 == 0 ? a : b).Post($"/v1/subjects/{name}/faces?allow_duplicate=true", key, Form(("image", Face(People[i % 4].Photo))))).Status; }
                catch (TaskCanceledException) { status = 0; }
                lock (statuses) statuses.Add((DateTime.UtcNow, status));
                if (status == 201) lock (acknowledged) acknowledged.Add(name);
                else await Task.Delay(200);
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(3));
        var down = DateTime.UtcNow;
        postgres.Stop();
        await Task.Delay(TimeSpan.FromSeconds(4));
        var up = DateTime.UtcNow;
        postgres.Start();
        // the cluster recovers on its own: enrolments succeed again
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            lock (statuses) if (statuses.Any(s => s.At > up.AddSeconds(1) && s.Status == 201)) break;
            await Task.Delay(200);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        stop.Cancel();
        await writer;

        var during = statuses.Where(s => s.At > down.AddSeconds(0.5) && s.At < up).ToList();
        output.WriteLine($"while down: {string.Join(",", during.Select(s => s.Status).Distinct())}; after: first 201 "
            + $"{(statuses.First(s => s.At > up && s.Status == 201).At - up).TotalSeconds:F1} s after the restart");
        Assert.NotEmpty(during);
        Assert.All(during, s => Assert.Equal(503, s.Status));
        Assert.Contains(statuses, s => s.At > up && s.Status == 201);
        using var store = PostgresGalleryStore.Open(db, null, readOnly: true);
        Assert.Subset(store.Subjects().Select(s => s.Name).ToHashSet(), acknowledged.ToHashSet());
        // what was committed while the answer could not be given (a 503 after the commit) reaches the shards too, within the followers' second
        int stored = store.Subjects().Count, inShards = -1;
        // (a shard whose database connection broke under it answers 503 until it has reopened it: asked again)
        var unavailable = new List<string>();
        for (var until = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < until && inShards != stored; await Task.Delay(250))
        {
            var (status, body) = await a.Send(HttpMethod.Get, "/v1/cluster", key);
            if (status == 200) inShards = body.GetProperty("subjects").GetInt32();
            else unavailable.Add($"{status}: {body}");
        }
        output.WriteLine($"cluster state unavailable {unavailable.Count} time(s) after the restart: {string.Join(" | ", unavailable.Take(3))}");
        Assert.All(unavailable, u => Assert.StartsWith("503", u));
        Assert.Equal(stored, inShards);
    }
}
