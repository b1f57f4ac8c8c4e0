using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using FaceNet.Service;
using FaceNet.Service.Keys;
using FaceNet.Tests.Gallery;
using Microsoft.Data.Sqlite;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>
/// One service, several tenants, each its own gallery: a key reaches its own tenant's subjects only — on
/// every endpoint — and only the service's administrators make and remove tenants. A folder of SQLite
/// files, and one PostgreSQL database (a schema per tenant); encrypted, each tenant has its own data key.
/// </summary>
[Collection("postgres")]
public sealed class TenantTests(PostgresServer postgres)
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_key_reaches_its_own_tenant_only(string kind)
    {
        var dir = Directory.CreateTempSubdirectory("facenet-tenants-").FullName;
        var masterFile = Path.Combine(dir, "master.key");
        File.WriteAllText(masterFile, MasterKey.Create().ToBase64());
        var master = MasterKey.Load(masterFile);
        string location = kind == "sqlite" ? Path.Combine(dir, "galleries") + "/" : postgres.NewDatabase();
        await using var s = await StartAsync(o => o with { MasterKey = master }, gallery: location, dir: dir, keys: [("root", "admin", 1000)]);
        var root = s.Keys["root"];
        string Key(string name, string tenant, string scopes) => ApiKeys.Add(s.KeysFile, name, scopes.Split(',').Select(x => ApiKeys.ParseScope("", x)).ToList(), 1000, tenant);
        var a = Key("a-admin", "acme", "admin");
        var b = Key("b-admin", "globex", "admin");
        var stranger = Key("nobody", "initech", "admin"); // a tenant nobody made
        await Task.Delay(1500); // the keys file is re-read when it changes

        // tenants: made by the service's administrator only
        Assert.Equal(201, (await s.Send(HttpMethod.Post, "/v1/tenants/acme", root)).Status);
        Assert.Equal(201, (await s.Send(HttpMethod.Post, "/v1/tenants/globex", root)).Status);
        Assert.Equal(409, (await s.Send(HttpMethod.Post, "/v1/tenants/acme", root)).Status);
        Assert.Equal(400, (await s.Send(HttpMethod.Post, "/v1/tenants/Bad%20Name", root)).Status);
        Assert.Equal(403, (await s.Send(HttpMethod.Post, "/v1/tenants/evil", a)).Status);
        Assert.Equal(403, (await s.Send(HttpMethod.Delete, "/v1/tenants/globex", a)).Status);
        var (listed, tenants, _) = await s.Send(HttpMethod.Get, "/v1/tenants", root);
        Assert.Equal(200, listed);
        Assert.Equal(["default", "acme", "globex"], tenants.GetProperty("tenants").EnumerateArray().Select(t => t.GetString()!));

        // acme enrols Ada; globex sees nothing of her, on any endpoint
        Assert.Equal(201, (await s.Post("/v1/subjects/Ada/faces", a, Form(("image", Face("img1.jpg"))))).Status);
        Assert.Equal(201, (await s.Post("/v1/subjects/Gus/faces", b, Form(("image", Face("img3.jpg"))))).Status);
        static string[] Names(JsonElement body) => body.GetProperty("subjects").EnumerateArray().Select(x => x.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["Ada"], Names((await s.Send(HttpMethod.Get, "/v1/subjects", a)).Body));
        Assert.Equal(["Gus"], Names((await s.Send(HttpMethod.Get, "/v1/subjects", b)).Body));
        var (_, seenByA, _) = await s.Post("/v1/identify", a, Form(("image", Face("img2.jpg"))));
        Assert.Equal("Ada", seenByA.GetProperty("faces")[0].GetProperty("name").GetString());
        var (_, seenByB, _) = await s.Post("/v1/identify", b, Form(("image", Face("img2.jpg"))));
        Assert.False(seenByB.GetProperty("faces")[0].GetProperty("known").GetBoolean());
        Assert.DoesNotContain("Ada", seenByB.GetRawText());
        Assert.Equal(1, seenByB.GetProperty("subjects").GetInt32());
        Assert.Equal(404, (await s.Send(HttpMethod.Delete, "/v1/subjects/Ada", b)).Status);
        Assert.Equal(["Ada"], Names((await s.Send(HttpMethod.Get, "/v1/subjects", a)).Body));
        // the root key's own tenant is the default one: it does not see acme's people either
        Assert.Empty(Names((await s.Send(HttpMethod.Get, "/v1/subjects", root)).Body));
        // a key of a tenant that does not exist reaches nothing
        Assert.Equal(404, (await s.Send(HttpMethod.Get, "/v1/subjects", stranger)).Status);
        Assert.Equal(404, (await s.Post("/v1/subjects/X/faces", stranger, Form(("image", Face("img1.jpg"))))).Status);

        // each tenant's gallery has its own data key, and each audit trail its own events
        var acme = s.Host.Tenants!.Find("acme")!;
        var globex = s.Host.Tenants.Find("globex")!;
        Assert.DoesNotContain(acme.Store.AuditTrail(), e => e.Actor == "b-admin");
        Assert.Contains(acme.Store.AuditTrail(), e => e is { Actor: "a-admin", Operation: "enroll", Subject: "Ada" });
        if (kind == "sqlite")
        {
            string DataKey(string file)
            {
                using var c = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT value FROM meta WHERE key = 'data_key'";
                return (string)cmd.ExecuteScalar()!;
            }
            Assert.NotEqual(DataKey(Path.Combine(location, "acme.db")), DataKey(Path.Combine(location, "globex.db")));
            Assert.True(GalleryProtection.IsEncrypted(Path.Combine(location, "acme.db")));
        }
        else Assert.True(((PostgresGalleryStore)globex.Store).Encrypted);

        // the command line reaches one tenant's gallery under the service's location
        var listedByCli = Cli.CliRunner.Run("subjects", "-g", location, "--tenant", "acme", "--master-key-file", masterFile, "--json");
        Assert.Equal(0, listedByCli.ExitCode);
        Assert.True(listedByCli.Out.Contains("\"name\":\"Ada\""), listedByCli.Out + listedByCli.Err);
        Assert.DoesNotContain("Gus", listedByCli.Out);
        var audit = Cli.CliRunner.Run("audit", "-g", location, "--tenant", "globex", "--master-key-file", masterFile, "--json");
        Assert.Equal(0, audit.ExitCode);
        Assert.Contains("\"actor\":\"b-admin\"", audit.Out);
        Assert.DoesNotContain("a-admin", audit.Out);

        // removing a tenant erases its gallery; its keys then reach nothing
        Assert.Equal(204, (await s.Send(HttpMethod.Delete, "/v1/tenants/globex", root)).Status);
        Assert.Equal(404, (await s.Send(HttpMethod.Get, "/v1/subjects", b)).Status);
        Assert.Equal(404, (await s.Send(HttpMethod.Delete, "/v1/tenants/globex", root)).Status);
        if (kind == "sqlite") Assert.False(File.Exists(Path.Combine(location, "globex.db")));
        else Assert.False(PostgresGalleryStore.Exists(location, GalleryTenants.SchemaOf("globex")));
        Assert.Equal(["Ada"], Names((await s.Send(HttpMethod.Get, "/v1/subjects", a)).Body));
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Each_tenant_is_swept_by_its_own_retention()
    {
        var dir = Directory.CreateTempSubdirectory("facenet-tenants-").FullName;
        var galleries = Path.Combine(dir, "galleries") + "/";
        await using var s = await StartAsync(o => o with { TenantRetention = new Dictionary<string, TimeSpan> { ["acme"] = TimeSpan.FromDays(30) }, RetentionSweep = TimeSpan.FromMilliseconds(200) },
            gallery: galleries, dir: dir, keys: [("root", "admin", 1000)]);
        var root = s.Keys["root"];
        foreach (var t in (string[])["acme", "globex"]) Assert.Equal(201, (await s.Send(HttpMethod.Post, $"/v1/tenants/{t}", root)).Status);
        foreach (var t in (string[])["acme", "globex"])
        {
            var g = s.Host.Tenants!.Find(t)!;
            g.Enroll("Old " + t, [new NewFace(RandomFaces.Unit(new Random(1), g.Model.EmbeddingSize))]);
            using var c = new SqliteConnection($"Data Source={Path.Combine(galleries, t + ".db")};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE subjects SET last_used = '2020-01-01T00:00:00.0000000Z'";
            cmd.ExecuteNonQuery();
        }
        var acme = s.Host.Tenants!.Find("acme")!;
        for (int i = 0; i < 100 && acme.Store.Subjects().Count > 0; i++) await Task.Delay(100);
        Assert.Empty(acme.Store.Subjects());                                  // acme keeps faces 30 days
        Assert.Single(s.Host.Tenants.Find("globex")!.Store.Subjects());       // globex has no retention
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task A_service_over_one_gallery_file_hosts_the_default_tenant_only()
    {
        await using var s = await StartAsync(keys: [("root", "admin", 1000)]);
        var (status, body, _) = await s.Send(HttpMethod.Post, "/v1/tenants/acme", s.Keys["root"]);
        Assert.Equal(409, status);
        Assert.Contains("hosts one gallery file", body.GetProperty("detail").GetString());
        var acmeKey = s.AddKey("acme-key", "admin");
        Assert.Equal(200, (await s.Send(HttpMethod.Get, "/v1/subjects", s.Keys["root"])).Status);
        Assert.NotNull(acmeKey);
    }
}
