using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using FaceNet.Gallery;
using FaceNet.Tests.Gallery;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>
/// `facenet serve` as its own process, as it runs in production: killed with SIGKILL in the middle of a
/// stream of enrolments, stopped with SIGTERM while requests are in flight; and the keys commands.
/// </summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
[Collection("postgres")]
public sealed class ServiceProcessTests(PostgresServer postgres) : IDisposable
{
    private readonly TempFolder _temp = new("facenet-serve-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private ServeProcess Serve(string gallery, params string[] extra) => ServeProcess.Start(_dir, gallery, extra);

    private string Key(string scopes = "admin") => ServeProcess.AddKey(_dir, scopes);

    private static Task<(int Status, JsonElement Body)> Post(ServeProcess s, string path, string key, HttpContent content) => s.Post(path, key, content);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Kill_9_during_a_stream_of_enrolments_loses_no_face_that_got_a_201(string kind)
    {
        var gallery = kind == "sqlite" ? Path.Combine(_dir, "people.db") : postgres.NewDatabase();
        var key = Key();
        var photos = new[] { "img1.jpg", "img3.jpg", "img8.jpg", "img16.jpg" }.Select(Face).ToArray();
        var acknowledged = new List<(string Name, long FaceId)>();
        using (var server = Serve(gallery))
        {
            // four clients enrol at once; the server dies under them
            using var stop = new CancellationTokenSource();
            var clients = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    var name = $"P{c}-{i}";
                    try
                    {
                        var (status, body) = await Post(server, $"/v1/subjects/{name}/faces?allow_duplicate=true", key, Form(("image", photos[(c + i) % photos.Length])));
                        if (status == 201) lock (acknowledged) acknowledged.Add((name, body.GetProperty("face_id").GetInt64()));
                    }
                    catch (HttpRequestException) { return; } // the server is gone
                    catch (TaskCanceledException) { return; }
                }
            })).ToList();
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (DateTime.UtcNow < deadline) { lock (acknowledged) if (acknowledged.Count >= 12) break; await Task.Delay(10); }
            server.Process.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no flush
            server.Process.WaitForExit(10_000);
            stop.Cancel();
            await Task.WhenAll(clients);
        }
        Assert.True(acknowledged.Count >= 12, $"only {acknowledged.Count} enrolments before the deadline");

        // what the store holds after the crash: every acknowledged face, under its name
        using (var store = GalleryStores.Open(gallery, null, readOnly: true))
        {
            var names = store.Subjects().ToDictionary(s => s.Id, s => s.Name);
            var faces = store.Faces().ToDictionary(f => f.Id, f => names[f.SubjectId]);
            foreach (var (name, id) in acknowledged)
                Assert.True(faces.TryGetValue(id, out var stored) && stored == name, $"face {id} of {name} got a 201 but is not in the gallery");
            if (store is GalleryStore sqlite) Assert.Equal("ok", sqlite.IntegrityCheck());
        }
        // and the restarted service identifies them
        using var again = Serve(gallery);
        var (status2, hit) = await Post(again, "/v1/identify", key, Form(("image", Face("img2.jpg"))));
        Assert.Equal(200, status2);
        Assert.True(hit.GetProperty("faces")[0].GetProperty("known").GetBoolean());
    }

    [Fact]
    public async Task SIGTERM_lets_the_requests_in_flight_finish_then_exits_cleanly()
    {
        var key = Key("verify");
        using var server = Serve(Path.Combine(_dir, "g.db"), "--workers", "1");
        var requests = Enumerable.Range(0, 6).Select(_ => Post(server, "/v1/embed", key, Form(("image", Face("selfie-many-people.jpg"))))).ToList();
        // wait until the service has them all (admitted: working or queued), then ask it to stop
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var metrics = await server.Http.GetStringAsync(server.Address + "/metrics");
            var depth = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("facenet_inference_queue_depth "));
            if (depth is not null && double.Parse(depth.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 4) break;
            await Task.Delay(5);
        }
        using (var term = Process.Start("kill", ["-TERM", server.Process.Id.ToString()])) term.WaitForExit();
        var results = await Task.WhenAll(requests);
        Assert.All(results, r => Assert.Equal(200, r.Status));
        Assert.True(server.Process.WaitForExit(30_000), "the service did not exit after SIGTERM");
        server.Process.WaitForExit(); // the untimed wait also drains the redirected output
        Assert.Equal(0, server.Process.ExitCode);
        // every line, to the end of its output (the reading tasks may be behind the exit)
        var output = new List<string>();
        using (var end = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            await foreach (var l in server.Lines.Reader.ReadAllAsync(end.Token)) output.Add(l);
        Assert.Contains("stopped", output);
    }

    [Fact]
    public void Keys_are_printed_once_stored_as_hashes_listed_and_revoked()
    {
        var file = Path.Combine(_dir, "k.json");
        var add = FaceNet.Tests.Cli.CliRunner.Run("keys", "add", "door-3", "--scopes", "verify,identify", "--rate", "5", "--keys", file);
        Assert.Equal(0, add.ExitCode);
        var key = add.OutLines[^1];
        Assert.StartsWith("fnk_", key);
        Assert.True(key.Length > 40);
        var stored = File.ReadAllText(file);
        Assert.DoesNotContain(key, stored);
        Assert.DoesNotContain(key[4..], stored);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal("door-3", FaceNet.Service.Keys.ApiKeys.Load(file).Find(key)!.Name);

        var list = FaceNet.Tests.Cli.CliRunner.Run("keys", "list", "--keys", file, "--json");
        var k = JsonDocument.Parse(list.Out).RootElement[0];
        Assert.Equal("door-3", k.GetProperty("name").GetString());
        Assert.Equal(["verify", "identify"], k.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(5, k.GetProperty("rate_per_second").GetDouble());

        var twice = FaceNet.Tests.Cli.CliRunner.Run("keys", "add", "door-3", "--scopes", "verify", "--keys", file);
        Assert.Equal(2, twice.ExitCode);
        Assert.Contains("exists already", twice.Err);
        var badScope = FaceNet.Tests.Cli.CliRunner.Run("keys", "add", "x", "--scopes", "verify,root", "--keys", file);
        Assert.Equal(2, badScope.ExitCode);
        Assert.Contains("unknown scope 'root'", badScope.Err);

        Assert.Equal(0, FaceNet.Tests.Cli.CliRunner.Run("keys", "revoke", "door-3", "--keys", file).ExitCode);
        // revoked, not forgotten: refused, but known by its id in the audit trail
        Assert.NotNull(FaceNet.Service.Keys.ApiKeys.Load(file).Find(key)!.Revoked);
        Assert.Empty(FaceNet.Service.Keys.ApiKeys.Load(file).Active);
        Assert.Equal(2, FaceNet.Tests.Cli.CliRunner.Run("keys", "revoke", "door-3", "--keys", file).ExitCode);
    }

    [Fact]
    public void The_gallery_commands_take_a_postgres_connection_string()
    {
        var db = postgres.NewDatabase();
        var run = FaceNet.Tests.Cli.CliRunner.Run;
        Assert.Equal(0, run("enroll", "-g", db, "--name", "Ada", Face("img1.jpg"), Face("img2.jpg")).ExitCode);
        var id = run("identify", "-g", db, "--json", Face("img4.jpg"));
        Assert.Equal(0, id.ExitCode);
        Assert.Equal("Ada", JsonDocument.Parse(id.OutLines[0]).RootElement.GetProperty("name").GetString());
        var list = run("subjects", "-g", db, "--json");
        var subjects = JsonDocument.Parse(list.Out).RootElement.GetProperty("subjects");
        Assert.Equal(2, subjects[0].GetProperty("faces").GetInt32());
        Assert.Equal(0, run("subjects", "-g", db, "rename", "Ada", "Ada L").ExitCode);
        Assert.Equal(0, run("subjects", "-g", db, "remove", "Ada L").ExitCode);
        Assert.Equal(0, JsonDocument.Parse(run("subjects", "-g", db, "--json").Out).RootElement.GetProperty("subjects").GetArrayLength());
        // the password never shows in an error
        var bad = run("subjects", "-g", db.Replace("Database=", "Password=secret;Database=nope_"), "--json");
        Assert.Equal(2, bad.ExitCode);
        Assert.DoesNotContain("secret", bad.Err);
        Assert.Contains("postgres:", bad.Err);
    }
}
