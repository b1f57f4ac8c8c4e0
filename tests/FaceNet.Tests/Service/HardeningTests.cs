using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Service;
using FaceNet.Service.Keys;
using FaceNet.Tests.Cli;
using FaceNet.Tests.Gallery;
using SkiaSharp;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>
/// What a hostile probe of the service found, each kept fixed: a tenant removed under load stays removed without a
/// 500, a master key is never silently ignored, failed authentications cannot grow the audit trail without bound,
/// a gallery that cannot be written is unavailable (not a 500), names with '/' round-trip, a key without the
/// identify scope learns no names, malformed forms are 400 (not 413), a new key is never refused once loaded,
/// and a photo of hundreds of faces costs what the cap costs.
/// </summary>
[Collection("postgres")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes, chattr, /proc
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class HardeningTests(PostgresServer postgres) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-hardening-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories)) Unfreeze(f);
        try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string Key(string keysFile, string name, string scopes, string tenant = "default")
        => ApiKeys.Add(keysFile, name, [.. scopes.Split(',').Select(x => ApiKeys.ParseScope("", x))], 100_000, tenant);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_tenant_removed_under_load_stays_removed_and_its_requests_never_fail_with_500(string kind)
    {
        string location = kind == "sqlite" ? Path.Combine(_dir, "galleries") + "/" : postgres.NewDatabase();
        await using var s = await StartAsync(gallery: location, dir: Directory.CreateTempSubdirectory("facenet-race-").FullName, keys: [("root", "admin", 100_000)]);
        var root = s.Keys["root"];
        var photo = File.ReadAllBytes(Face("img1.jpg"));
        for (int trial = 0; trial < 3; trial++)
        {
            var tenant = "c" + trial;
            Assert.Equal(201, (await s.Send(HttpMethod.Post, $"/v1/tenants/{tenant}", root)).Status);
            var key = Key(s.KeysFile, tenant, "admin", tenant);
            await Task.Delay(1200); // the keys file is read again within a second
            var statuses = new ConcurrentBag<int>();
            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (int n = 0; !stop.IsCancellationRequested; n++)
                {
                    var answer = w % 2 == 0
                        ? await s.Post($"/v1/subjects/p{w}_{n}/faces?allow_duplicate=true&force=true", key, new MultipartFormDataContent { { Part(photo), "image", "a.jpg" } })
                        : await s.Send(HttpMethod.Get, "/v1/subjects", key);
                    statuses.Add(answer.Status);
                }
            })).ToList();
            await Task.Delay(1500);
            Assert.Equal(204, (await s.Send(HttpMethod.Delete, $"/v1/tenants/{tenant}", root)).Status);
            // right after the 204 the tenant is gone: no store, no answer for its keys
            Assert.False(GalleryTenants.Exists(location, tenant), $"trial {trial}: the tenant's gallery exists right after its removal");
            Assert.Equal(404, (await s.Send(HttpMethod.Get, "/v1/subjects", key)).Status);
            await Task.Delay(700);
            stop.Cancel();
            await Task.WhenAll(load);
            Assert.False(GalleryTenants.Exists(location, tenant), $"trial {trial}: a request made the removed tenant's gallery again");
            Assert.Equal(404, (await s.Post("/v1/subjects/x/faces", key, new MultipartFormDataContent { { Part(photo), "image", "a.jpg" } })).Status);
            Assert.DoesNotContain(500, statuses);
            Assert.All(statuses, st => Assert.Contains(st, new[] { 200, 201, 404, 503 }));
            Assert.Contains(404, statuses); // the load did run into the removal
        }
    }

    [Fact]
    public void A_master_key_given_to_a_plain_gallery_with_faces_is_refused_in_the_cli_and_the_service()
    {
        var gallery = Path.Combine(_dir, "plain.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", gallery, "--name", "Ann", Face("img1.jpg")).ExitCode);
        var keyFile = Path.Combine(_dir, "master.key");
        Assert.Equal(0, CliRunner.Run("gallery", "new-key", "-o", keyFile).ExitCode);

        var enrol = CliRunner.Run("enroll", "-g", gallery, "--name", "Bob", "--master-key-file", keyFile, Face("img3.jpg"));
        Assert.Equal(3, enrol.ExitCode);
        Assert.Contains("gallery encrypt", enrol.Err);
        Assert.Contains("plain", enrol.Err);
        Assert.Equal(3, CliRunner.Run("identify", "-g", gallery, "--master-key-file", keyFile, Face("img2.jpg")).ExitCode);
        Assert.DoesNotContain("Bob", CliRunner.Run("subjects", "-g", gallery).Out);
        Assert.False(File.Exists(gallery + "-wal") && new FileInfo(gallery + "-wal").Length > 0 && Contains(File.ReadAllBytes(gallery + "-wal"), "Bob"u8.ToArray()));

        // a service over that one gallery does not start, and says why
        var (code, output) = ServeProcess.Refused(_dir, gallery, "--master-key-file", keyFile);
        Assert.Equal(3, code);
        Assert.Contains("gallery encrypt", output);

        // encrypted with the one command that opens it with a key, it works with the key
        Assert.Equal(0, CliRunner.Run("gallery", "encrypt", "-g", gallery, "--master-key-file", keyFile).ExitCode);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", gallery, "--name", "Bob", "--master-key-file", keyFile, Face("img3.jpg")).ExitCode);

        // a bound but empty plain gallery given a key becomes encrypted, as a new one does
        var empty = Path.Combine(_dir, "empty.db");
        using (GalleryStores.Open(empty, new GalleryModel("m:1", 8, "fixed", FaceNet.Matching.Metric.Euclidean))) { }
        using (var store = GalleryStores.Open(empty, null, key: FaceNet.Gallery.Protection.MasterKey.Load(keyFile)))
            Assert.True(((GalleryStore)store).Encrypted);
    }

    [Fact]
    public async Task A_service_over_tenants_serves_the_others_and_names_the_tenant_it_cannot_open()
    {
        var folder = Path.Combine(_dir, "svc") + "/";
        Directory.CreateDirectory(folder);
        var keyFile = Path.Combine(_dir, "master.key");
        Assert.Equal(0, CliRunner.Run("gallery", "new-key", "-o", keyFile).ExitCode);
        // acme: plain with a face; globex: encrypted under the key; initech: encrypted under another key
        Assert.Equal(0, CliRunner.Run("enroll", "-g", folder, "--tenant", "acme", "--name", "Ann", Face("img1.jpg")).ExitCode);
        Assert.Equal(0, CliRunner.Run("tenants", "add", "globex", "-g", folder, "--master-key-file", keyFile).ExitCode);
        var otherKey = Path.Combine(_dir, "other.key");
        Assert.Equal(0, CliRunner.Run("gallery", "new-key", "-o", otherKey).ExitCode);
        Assert.Equal(0, CliRunner.Run("tenants", "add", "initech", "-g", folder, "--master-key-file", otherKey).ExitCode);
        var keys = Path.Combine(_dir, "keys.json");
        var root = Key(keys, "root", "admin");
        var acme = Key(keys, "acme", "admin", "acme");
        var globex = Key(keys, "globex", "admin", "globex");
        var initech = Key(keys, "initech", "admin", "initech");

        using var s = ServeProcess.Start(_dir, folder, "--master-key-file", keyFile);
        var said = string.Join("\n", WaitFor(s, l => l.Contains("initech")));
        Assert.Contains("tenant acme cannot be opened", said);
        Assert.Contains("gallery encrypt", said);
        Assert.Contains("tenant initech cannot be opened", said);
        var (status, problem) = await s.Send(HttpMethod.Get, "/v1/subjects", acme);
        Assert.Equal(503, status);
        Assert.Contains("gallery encrypt", problem.GetProperty("detail").GetString());
        var (locked, lockedProblem) = await s.Send(HttpMethod.Get, "/v1/subjects", initech);
        Assert.Equal(503, locked);
        Assert.Contains("master key", lockedProblem.GetProperty("detail").GetString());
        Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", globex)).Status);
        Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", root)).Status);
    }

    private static List<string> WaitFor(ServeProcess s, Func<string, bool> seen)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !s.StderrSoFar().Any(seen)) Thread.Sleep(50);
        return [.. s.StderrSoFar()];
    }

    [Fact]
    public async Task Failed_authentications_are_limited_per_client_and_written_once_a_minute_with_the_key_they_claimed()
    {
        var dir = Directory.CreateTempSubdirectory("facenet-auth-").FullName;
        var s = await StartAsync(gallery: "people.db", dir: dir, keys: [("admin", "admin", 100_000)]);
        try
        {
            var admin = s.Keys["admin"];
            // a key that leaks, then is revoked: its later use is known by its id
            var leaky = s.AddKey("leaky", "identify");
            var id = ApiKeys.Load(s.KeysFile).All.Single(k => k.Name == "leaky").KeyId;
            await Task.Delay(1200);
            Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", leaky)).Status);
            Assert.True(ApiKeys.Revoke(s.KeysFile, "leaky"));
            await Task.Delay(1200);
            Assert.Equal(401, (await s.Send(HttpMethod.Get, "/v1/subjects", leaky)).Status);

            // 4 clients sending a wrong key as fast as they can, from one address
            var statuses = new ConcurrentBag<int>();
            var retryAfter = new ConcurrentBag<string>();
            var until = DateTime.UtcNow.AddSeconds(3);
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (DateTime.UtcNow < until)
                {
                    var (st, _, res) = await s.Send(HttpMethod.Get, "/v1/subjects", "nope");
                    statuses.Add(st);
                    if (st == 429 && res.Headers.RetryAfter is { } r) retryAfter.Add(r.ToString());
                }
            })));
            Assert.True(statuses.Count > 100, $"only {statuses.Count} requests in 3 s");
            Assert.InRange(statuses.Count(st => st == 401), 1, 31); // 30 a minute per address, one of them the revoked key's
            Assert.Equal(statuses.Count - statuses.Count(st => st == 401), statuses.Count(st => st == 429));
            Assert.NotEmpty(retryAfter);
            // only failures count: a valid key from the same address still works
            Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", admin)).Status);

            await s.Host.DisposeAsync(); // what is counted is written when the service stops
            using var store = GalleryStore.Open(Path.Combine(dir, "people.db"), null, readOnly: true);
            var trail = store.AuditTrail();
            var denied = trail.Where(e => e.Operation == AuditOperations.Authenticate).ToList();
            Assert.InRange(denied.Count, 2, 4); // a row per claimed key and minute (the run may cross a minute)
            Assert.Equal(statuses.Count + 1, denied.Sum(e => e.Count)); // every refused request counted, the revoked key's too
            Assert.All(denied, e => Assert.Equal("127.0.0.1", e.Client));
            Assert.Contains(denied, e => e.Actor == $"key {id} (revoked)" && e.Count == 1);
            Assert.Contains(denied, e => e.Actor == "unknown key" && e.Outcome.Contains("429"));
            Assert.True(trail.Count < 20, $"{trail.Count} audit rows for {statuses.Count} refused requests");
            Assert.Contains(trail, e => e is { Actor: "leaky", Operation: "list", Client: "127.0.0.1" });
        }
        finally { await s.DisposeAsync(); }
    }

    [Fact]
    public async Task A_gallery_file_that_cannot_be_written_is_unavailable_and_reads_still_answer()
    {
        var gallery = Path.Combine(_dir, "ro.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", gallery, "--name", "Ann", Face("img1.jpg")).ExitCode);
        var keys = Path.Combine(_dir, "keys.json");
        var admin = Key(keys, "admin", "admin");
        Freeze(gallery);
        try
        {
            var cli = CliRunner.Run("enroll", "-g", gallery, "--name", "Bob", Face("img3.jpg"));
            Assert.Equal(2, cli.ExitCode);
            Assert.Contains("cannot be written", cli.Err);
            Assert.DoesNotContain("unexpected", cli.Err);

            using var s = ServeProcess.Start(_dir, gallery);
            using (var ready = await s.Http.GetAsync(s.Address + "/readyz"))
            {
                Assert.Equal(503, (int)ready.StatusCode);
                Assert.Contains("cannot be written", await ready.Content.ReadAsStringAsync());
            }
            var (listed, subjects) = await s.Send(HttpMethod.Get, "/v1/subjects", admin);
            Assert.Equal(200, listed);
            Assert.Equal("Ann", subjects.GetProperty("subjects")[0].GetProperty("name").GetString());
            var (found, who) = await s.Post("/v1/identify", admin, Form(("image", Face("img2.jpg"))));
            Assert.Equal(200, found);
            Assert.Equal("Ann", who.GetProperty("faces")[0].GetProperty("name").GetString());
            var (enrolled, problem) = await s.Post("/v1/subjects/Bob/faces", admin, Form(("image", Face("img3.jpg"))));
            Assert.Equal(503, enrolled);
            Assert.Contains("cannot be written", problem.GetProperty("detail").GetString());
            Assert.Equal(503, (await s.Send(HttpMethod.Delete, "/v1/subjects/Ann", admin)).Status);
            Assert.Contains(WaitFor(s, l => l.Contains("audit trail not written")), l => l.Contains("audit trail not written"));
        }
        finally { Unfreeze(gallery); }
        using var after = GalleryStore.Open(gallery, null, readOnly: true);
        Assert.Equal(["Ann"], after.Subjects().Select(x => x.Name));
    }

    [Fact]
    public async Task A_postgres_role_without_write_rights_is_unavailable_and_reads_still_answer()
    {
        var db = postgres.NewDatabase();
        Assert.Equal(0, CliRunner.Run("enroll", "-g", db, "--name", "Ann", Face("img1.jpg")).ExitCode);
        var dbName = new Npgsql.NpgsqlConnectionStringBuilder(db).Database!;
        using (var c = new Npgsql.NpgsqlConnection(db))
        {
            c.Open();
            using var cmd = new Npgsql.NpgsqlCommand("""
                DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reader') THEN CREATE ROLE reader LOGIN; END IF; END $$;
                GRANT USAGE ON SCHEMA facenet TO reader;
                GRANT SELECT ON ALL TABLES IN SCHEMA facenet TO reader;
                """, c);
            cmd.ExecuteNonQuery();
        }
        var readOnly = new Npgsql.NpgsqlConnectionStringBuilder(db) { Username = "reader" }.ConnectionString;
        var keys = Path.Combine(_dir, "keys.json");
        var admin = Key(keys, "admin", "admin");
        using var s = ServeProcess.Start(_dir, readOnly);
        using (var ready = await s.Http.GetAsync(s.Address + "/readyz"))
        {
            Assert.Equal(503, (int)ready.StatusCode);
            Assert.Contains("may not write", await ready.Content.ReadAsStringAsync());
        }
        Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", admin)).Status);
        var (found, who) = await s.Post("/v1/identify", admin, Form(("image", Face("img2.jpg"))));
        Assert.Equal(200, found);
        Assert.Equal("Ann", who.GetProperty("faces")[0].GetProperty("name").GetString());
        Assert.Equal(503, (await s.Post("/v1/subjects/Bob/faces", admin, Form(("image", Face("img3.jpg"))))).Status);
        Assert.Equal(503, (await s.Send(HttpMethod.Delete, "/v1/subjects/Ann", admin)).Status);
        Assert.Contains(dbName, db);
    }

    // unwritable even for root: the immutable attribute where it can be set, else no write permission
    private static void Freeze(string file)
    {
        if (Environment.UserName == "root" && Run("chattr", "+i", file) == 0) return;
        File.SetUnixFileMode(file, UnixFileMode.UserRead);
    }

    private static void Unfreeze(string file)
    {
        if (Environment.UserName == "root") Run("chattr", "-i", file);
        try { File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static int Run(string program, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            p.WaitForExit(10_000);
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }
    }

    [Fact]
    public async Task Names_with_a_slash_round_trip_in_every_route()
    {
        var gallery = Path.Combine(_dir, "bands.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", gallery, "--name", "AC/DC", Face("img1.jpg")).ExitCode);
        await using var s = await StartAsync(gallery: gallery, dir: Directory.CreateTempSubdirectory("facenet-slash-").FullName, keys: [("admin", "admin", 100_000)]);
        var admin = s.Keys["admin"];
        var (_, listed, _) = await s.Send(HttpMethod.Get, "/v1/subjects", admin);
        Assert.Equal("AC/DC", listed.GetProperty("subjects")[0].GetProperty("name").GetString());
        Assert.Equal(204, (await s.Send(HttpMethod.Delete, "/v1/subjects/AC%2FDC", admin)).Status);

        var (made, body, res) = await s.Post("/v1/subjects/a%2Fb/faces", admin, Form(("image", Face("img3.jpg"))));
        Assert.Equal(201, made);
        Assert.Equal("a/b", body.GetProperty("subject").GetString());
        Assert.Equal("/v1/subjects/a%2Fb", res.Headers.Location?.OriginalString);
        // a name that holds "%2F" itself is sent as %252F and kept as it is
        Assert.Equal(201, (await s.Post("/v1/subjects/x%252Fy/faces?allow_duplicate=true", admin, Form(("image", Face("img8.jpg"))))).Status);
        var names = (await s.Send(HttpMethod.Get, "/v1/subjects", admin)).Body.GetProperty("subjects").EnumerateArray().Select(x => x.GetProperty("name").GetString()).ToList();
        Assert.Equal(["a/b", "x%2Fy"], names);
        Assert.Equal(204, (await s.Send(HttpMethod.Delete, "/v1/subjects/x%252Fy", admin)).Status);
        Assert.Equal(204, (await s.Send(HttpMethod.Delete, "/v1/subjects/a%2Fb", admin)).Status);
    }

    [Fact]
    public async Task A_key_without_the_identify_scope_learns_that_a_face_is_enrolled_but_not_whose()
    {
        await using var s = await StartAsync(gallery: "people.db", dir: Directory.CreateTempSubdirectory("facenet-dup-").FullName,
            keys: [("admin", "admin", 100_000), ("desk", "enroll", 100_000), ("both", "enroll,identify", 100_000)]);
        Assert.Equal(201, (await s.Post("/v1/subjects/Ann%20Secret/faces", s.Keys["admin"], Form(("image", Face("img1.jpg"))))).Status);
        var (refused, problem, _) = await s.Post("/v1/subjects/Eve/faces", s.Keys["desk"], Form(("image", Face("img2.jpg"))));
        Assert.Equal(409, refused);
        Assert.DoesNotContain("Ann", problem.GetRawText());
        Assert.Contains("another subject", problem.GetProperty("detail").GetString());
        var (allowed, enrolled, _) = await s.Post("/v1/subjects/Eve/faces?allow_duplicate=true", s.Keys["desk"], Form(("image", Face("img2.jpg"))));
        Assert.Equal(201, allowed);
        Assert.Equal(JsonValueKind.Null, enrolled.GetProperty("duplicate_of").ValueKind);
        // a key that may identify is told whom
        var (named, told, _) = await s.Post("/v1/subjects/Zed/faces", s.Keys["both"], Form(("image", Face("img4.jpg"))));
        Assert.Equal(409, named);
        Assert.Matches("already enrolled as '(Ann Secret|Eve)'", told.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_malformed_form_is_400_and_only_a_body_over_the_limit_is_413()
    {
        await using var s = await StartAsync(gallery: null, dir: Directory.CreateTempSubdirectory("facenet-forms-").FullName, keys: [("k", "verify", 100_000)]);
        var key = s.Keys["k"];
        var image = File.ReadAllBytes(Face("img1.jpg"));

        var fields = new MultipartFormDataContent { { Part(image), "image", "a.jpg" } };
        for (int i = 0; i < 17; i++) fields.Add(new StringContent(new string('x', 3700)), "f" + i);
        var (st1, p1, _) = await s.Post("/v1/detect", key, fields);
        Assert.Equal(400, st1);
        Assert.Contains("count", p1.GetProperty("detail").GetString());

        var longName = new MultipartFormDataContent { { Part(image), "image", new string('n', 100_000) + ".jpg" } };
        Assert.Equal(400, (await s.Post("/v1/detect", key, longName)).Status);

        // HttpClient will not write a boundary over 70 characters: the body is written by hand
        var b = new string('b', 200);
        var raw = new MemoryStream();
        raw.Write(Encoding.ASCII.GetBytes($"--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"));
        raw.Write(image);
        raw.Write(Encoding.ASCII.GetBytes($"\r\n--{b}--\r\n"));
        var boundary = new ByteArrayContent(raw.ToArray());
        boundary.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={b}");
        Assert.Equal(400, (await s.Post("/v1/detect", key, boundary)).Status);

        var big = new MultipartFormDataContent { { Part(new byte[11 * 1024 * 1024]), "image", "big.jpg" } };
        var (st4, p4, _) = await s.Post("/v1/detect", key, big);
        Assert.Equal(413, st4);
        Assert.Contains("larger than", p4.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_new_key_is_never_refused_once_a_second_has_passed()
    {
        await using var s = await StartAsync(gallery: null, dir: Directory.CreateTempSubdirectory("facenet-reload-").FullName, keys: [("old", "verify", 100_000)]);
        for (int round = 0; round < 6; round++)
        {
            var key = s.AddKey("new" + round, "verify", 100_000);
            await Task.Delay(1300); // no request meanwhile: the first of the burst finds the check due
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => s.Send(HttpMethod.Post, "/v1/detect", key,
                new MultipartFormDataContent { { Part(File.ReadAllBytes(Face("img1.jpg"))), "image", "a.jpg" } })));
            Assert.All(answers, a => Assert.Equal(200, a.Status));
        }
    }

    [Fact]
    public async Task A_photo_of_hundreds_of_faces_keeps_the_largest_and_says_how_many_were_dropped()
    {
        var tiled = Path.Combine(_dir, "tiled.jpg");
        File.WriteAllBytes(tiled, TiledFaces(Face("img1.jpg"), 20, 12));
        await using var s = await StartAsync(o => o with { MaxFaces = 16 }, gallery: "people.db", dir: Directory.CreateTempSubdirectory("facenet-tiled-").FullName,
            keys: [("admin", "admin", 100_000)]);
        var (status, body, _) = await s.Post("/v1/detect", s.Keys["admin"], Form(("image", tiled)));
        Assert.Equal(200, status);
        Assert.Equal(16, body.GetProperty("faces").GetArrayLength());
        Assert.True(body.GetProperty("faces_dropped").GetInt32() > 100, body.GetProperty("faces_dropped").ToString());
        var (_, who, _) = await s.Post("/v1/identify", s.Keys["admin"], Form(("image", tiled)));
        Assert.Equal(16, who.GetProperty("faces").GetArrayLength());
        Assert.Equal(body.GetProperty("faces_dropped").GetInt32(), who.GetProperty("faces_dropped").GetInt32());
        var rows = s.Host.Gallery!.Store.AuditTrail().Count(e => e.Operation == "identify");
        Assert.Equal(16, rows);
    }

    /// <summary>The face of a photo cut out and tiled <paramref name="columns"/> × <paramref name="rows"/> times: a crowd of one person.</summary>
    internal static byte[] TiledFaces(string photo, int columns, int rows)
    {
        using var faces = FaceRecognizer.Create();
        var face = faces.Detect(photo)[0].Box;
        using var source = SKBitmap.Decode(photo);
        int cell = 96;
        using var crowd = new SKBitmap(columns * cell, rows * cell);
        using (var canvas = new SKCanvas(crowd))
        {
            canvas.Clear(SKColors.Gray);
            var from = SKRect.Create(face.X - face.Width * 0.3f, face.Y - face.Height * 0.3f, face.Width * 1.6f, face.Height * 1.6f);
            using var paint = new SKPaint();
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < columns; x++)
                    canvas.DrawImage(SKImage.FromBitmap(source), from, SKRect.Create(x * cell + 4, y * cell + 4, cell - 8, cell - 8), new SKSamplingOptions(SKFilterMode.Linear), paint);
        }
        using var image = SKImage.FromBitmap(crowd);
        return image.Encode(SKEncodedImageFormat.Jpeg, 90).ToArray();
    }

    [Fact]
    public void Galleries_their_side_files_and_key_files_are_readable_by_their_owner_only()
    {
        var gallery = Path.Combine(_dir, "private.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", gallery, "--name", "Ann", Face("img1.jpg")).ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(gallery));
        using (var store = GalleryStore.Open(gallery, null))
        {
            store.Audit(new AuditEvent("t", "list", "ok")); // a write: the WAL exists while the store is open
            Assert.True(File.Exists(gallery + "-wal"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(gallery + "-wal"));
        }
        var key = Path.Combine(_dir, "new.key");
        var made = CliRunner.Run("gallery", "new-key", "-o", key);
        Assert.Equal(0, made.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(44, File.ReadAllText(key).Trim().Length); // 32 bytes, base64
        Assert.Equal(1, CliRunner.Run("gallery", "new-key", "-o", key).ExitCode); // never overwritten
        var keys = Path.Combine(_dir, "keys.json");
        Key(keys, "k", "verify");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keys));
        var folder = Path.Combine(_dir, "tenants") + "/";
        Assert.Equal(0, CliRunner.Run("tenants", "add", "acme", "-g", folder).ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, "acme.db")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder.TrimEnd('/')));
    }

    [Fact]
    public void Tenants_are_made_listed_and_removed_from_the_command_line_and_a_key_for_a_missing_tenant_says_how()
    {
        var folder = Path.Combine(_dir, "t") + "/";
        var keys = Path.Combine(_dir, "keys.json");
        var added = CliRunner.Run("keys", "add", "k", "--scopes", "verify", "--tenant", "acme", "--keys", keys);
        Assert.Equal(0, added.ExitCode);
        Assert.Contains("facenet tenants add acme", added.Err);
        Assert.Equal(0, CliRunner.Run("tenants", "add", "acme", "-g", folder).ExitCode);
        Assert.Equal(1, CliRunner.Run("tenants", "add", "Bad-Name", "-g", folder).ExitCode);
        Assert.Equal(2, CliRunner.Run("tenants", "add", "acme", "-g", folder).ExitCode); // exists already
        Assert.Equal(["default", "acme"], CliRunner.Run("tenants", "list", "-g", folder).OutLines);
        Assert.Equal(0, CliRunner.Run("tenants", "remove", "acme", "-g", folder).ExitCode);
        Assert.False(File.Exists(Path.Combine(folder, "acme.db")));
        Assert.Equal(2, CliRunner.Run("tenants", "remove", "acme", "-g", folder).ExitCode);
        Assert.Equal(1, CliRunner.Run("tenants", "add", "acme", "-g", Path.Combine(_dir, "one.db")).ExitCode); // one gallery file holds no tenants
    }

    [Fact]
    public async Task Json_answers_leave_plus_signs_and_other_characters_as_they_are()
    {
        await using var s = await StartAsync(gallery: "people.db", dir: Directory.CreateTempSubdirectory("facenet-json-").FullName, keys: [("admin", "admin", 100_000)]);
        var (status, _, res) = await s.Post("/v1/subjects/Zoë%20+%20Ann%20%3Cadmin%3E/faces", s.Keys["admin"], Form(("image", Face("img1.jpg"))));
        Assert.Equal(201, status);
        var text = await res.Content.ReadAsStringAsync();
        Assert.Contains("\"Zoë + Ann <admin>\"", text);
        Assert.DoesNotContain("\\u", text);
    }

    [Fact]
    public async Task A_fault_of_ours_is_logged_with_its_exception_and_the_trace_id_its_answer_carries()
    {
        var log = new StringWriter();
        var dir = Directory.CreateTempSubdirectory("facenet-fault-").FullName;
        var admin = Key(Path.Combine(dir, "keys.json"), "admin", "admin");
        await using var host = await FaceServiceHost.StartAsync(new ServiceOptions
        {
            Urls = "http://127.0.0.1:0", Gallery = Path.Combine(dir, "people.db"), KeysFile = Path.Combine(dir, "keys.json"),
        }, new FaceNet.Cli.StderrLogs(TextWriter.Synchronized(log)));
        host.Gallery!.Store.Dispose(); // the store closed under the service: a fault of ours, not the client's
        using var http = new HttpClient();
        using var req = new HttpRequestMessage(HttpMethod.Get, host.Address + "/v1/subjects");
        req.Headers.Add("X-API-Key", admin);
        using var res = await http.SendAsync(req);
        Assert.Equal(500, (int)res.StatusCode);
        var problem = JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement;
        var trace = problem.GetProperty("trace_id").GetString()!;
        Assert.DoesNotContain("   at ", problem.GetRawText()); // the stack is the operator's, never the client's
        var text = log.ToString();
        Assert.Contains(trace, text);
        Assert.Contains("Exception", text);
        Assert.Contains("   at ", text);
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
