using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using FaceNet.Tests.Service;
using Microsoft.Data.Sqlite;
using Npgsql;
using static FaceNet.Tests.Gallery.RandomFaces;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// The audit trail (append-only, in the store, never a template; an erased subject's name blanked in it) and
/// retention (subjects unused for the period erased, what refreshes them), on SQLite and on PostgreSQL, and
/// through the service as a client uses it.
/// </summary>
[Collection("postgres")]
public sealed class AuditRetentionTests(PostgresServer postgres) : IDisposable
{
    private static readonly GalleryModel Model = new("audit-model:01", 32, "fixed", FaceNet.Matching.Metric.Euclidean);
    private readonly TempFolder _temp = new("facenet-audit-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private string Location(string kind) => kind == "sqlite" ? Path.Combine(_dir, "g.db") : postgres.NewDatabase();

    private static void Sql(string kind, string location, string sql)
    {
        if (kind == "sqlite")
        {
            using var c = new SqliteConnection($"Data Source={location};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
        else
        {
            using var c = new NpgsqlConnection(location);
            c.Open();
            using var cmd = new NpgsqlCommand(sql.Replace("audit", "facenet.audit").Replace("subjects", "facenet.subjects"), c);
            cmd.ExecuteNonQuery();
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void The_trail_is_append_only_and_an_erased_subject_is_blanked_in_it(string kind)
    {
        var location = Location(kind);
        var r = new Random(1);
        using (var store = GalleryStores.Open(location, Model))
        {
            var ada = store.Enroll("Ada Secretname", [new NewFace(Unit(r, 32))]).SubjectId;
            store.Audit(new AuditEvent("kiosk", AuditOperations.Enroll, "ok", "Ada Secretname", ada) { Matched = true });
            store.Audit(new AuditEvent("kiosk", AuditOperations.Identify, "known", "Ada Secretname", ada) { Matched = true });
            store.Audit(new AuditEvent("kiosk", AuditOperations.Identify, "unknown"));
        }
        // neither a change nor a deletion gets through the store's own guard
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "UPDATE audit SET outcome = 'forged' WHERE operation = 'identify'"));
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "DELETE FROM audit"));
        using (var store = GalleryStores.Open(location, Model))
        {
            Assert.Equal(3, store.AuditTrail().Count);
            Assert.True(store.Remove("Ada Secretname"));
            var trail = store.AuditTrail();
            Assert.Equal(3, trail.Count); // the events stay …
            Assert.All(trail, e => Assert.Null(e.Subject)); // … without the name
            Assert.Equal(["enroll", "identify", "identify"], trail.Select(e => e.Operation));
            Assert.Equal("kiosk", trail[0].Actor);
            Assert.True(trail[0].At > DateTime.UtcNow.AddMinutes(-5) && trail[0].At <= DateTime.UtcNow.AddSeconds(5));
        }
        if (kind == "sqlite")
        {
            var bytes = File.ReadAllBytes(location).Concat(File.Exists(location + "-wal") ? File.ReadAllBytes(location + "-wal") : []).ToArray();
            Assert.True(bytes.AsSpan().IndexOf("Ada Secretname"u8) < 0, "the erased name is still in the gallery's files");
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void The_trail_keeps_its_entries_for_its_retention_and_its_sweep_alone_deletes_the_older_ones(string kind)
    {
        var location = Location(kind);
        using (var store = GalleryStores.Open(location, Model))
        {
            store.Audit(new AuditEvent("door", AuditOperations.Identify, "unknown") { At = DateTime.UtcNow.AddDays(-500), Client = "10.0.0.1" });
            store.Audit(new AuditEvent("door", AuditOperations.Identify, "unknown") { At = DateTime.UtcNow.AddDays(-401) });
            store.Audit(new AuditEvent("door", AuditOperations.Identify, "unknown") { At = DateTime.UtcNow.AddDays(-399) });
            store.Audit(new AuditEvent("unknown key", AuditOperations.Authenticate, "denied: 401 ×7") { Client = "10.0.0.2", Count = 7 });
        }
        // outside the sweep nothing deletes an entry, old or new
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "DELETE FROM audit"));
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "UPDATE audit SET count = 1"));
        using (var store = GalleryStores.Open(location, Model))
        {
            Assert.Equal(4, store.AuditTrail().Count);
            Assert.Equal(2, store.PruneAudit(DateTime.UtcNow.AddDays(-400), "(audit retention)"));
            var trail = store.AuditTrail();
            Assert.Equal(3, trail.Count);
            Assert.Equal("10.0.0.2", trail[1].Client);
            Assert.Equal(7, trail[1].Count);
            var prune = trail[^1];
            Assert.Equal((AuditOperations.AuditPrune, "(audit retention)"), (prune.Operation, prune.Actor));
            Assert.StartsWith("deleted 2 entries older than", prune.Outcome);
            Assert.Equal(0, store.PruneAudit(DateTime.UtcNow.AddDays(-400), "(audit retention)"));
        }
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "DELETE FROM audit"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_trail_of_the_previous_schema_keeps_its_entries_and_takes_the_retention_rule(string kind)
    {
        var location = Location(kind);
        using (var store = GalleryStores.Open(location, Model))
            store.Audit(new AuditEvent("kiosk", AuditOperations.List, "ok") { At = DateTime.UtcNow.AddDays(-1000) });
        // back to the schema of the previous release: no client or count, the trail's delete refused outright
        if (kind == "sqlite")
            Sql(kind, location, """
                DROP TRIGGER audit_no_delete; DROP TRIGGER audit_only_blanking; DROP INDEX audit_at;
                ALTER TABLE audit DROP COLUMN client; ALTER TABLE audit DROP COLUMN count; ALTER TABLE faces DROP COLUMN yaw;
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                CREATE TRIGGER audit_only_blanking BEFORE UPDATE ON audit
                    WHEN NEW.subject IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
                        OR NEW.operation IS NOT OLD.operation OR NEW.subject_id IS NOT OLD.subject_id OR NEW.outcome IS NOT OLD.outcome
                    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                PRAGMA user_version = 3;
                """);
        else
            Sql(kind, location, """
                SET search_path = facenet;
                DROP INDEX audit_at; ALTER TABLE audit DROP COLUMN client, DROP COLUMN count;
                CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
                BEGIN
                    IF TG_OP = 'UPDATE' AND NEW.subject IS NULL AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
                        AND NEW.operation = OLD.operation AND NEW.subject_id IS NOT DISTINCT FROM OLD.subject_id AND NEW.outcome = OLD.outcome THEN
                        RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'the audit trail is append-only';
                END $f$;
                UPDATE meta SET value = '2' WHERE key = 'schema_version';
                """);
        using (var old = GalleryStores.Open(location, Model, readOnly: true))
        {
            Assert.Single(old.AuditTrail());
            Assert.Null(old.AuditTrail()[0].Client);
        }
        using (var store = GalleryStores.Open(location, Model)) // migrated as it opens for writing
        {
            Assert.Equal(1, store.AuditTrail()[0].Count);
            store.Audit(new AuditEvent("kiosk", AuditOperations.List, "ok") { Client = "10.1.1.1" });
            Assert.Equal(1, store.PruneAudit(DateTime.UtcNow.AddDays(-400), "(audit retention)"));
            Assert.Equal(["10.1.1.1", null], store.AuditTrail().Select(e => e.Client));
        }
        Assert.ThrowsAny<Exception>(() => Sql(kind, location, "DELETE FROM audit"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Retention_erases_the_unused_and_a_match_or_an_enrolment_keeps_a_subject(string kind)
    {
        var location = Location(kind);
        var r = new Random(2);
        var old = kind == "sqlite" ? "'2020-01-01T00:00:00.0000000Z'" : "'2020-01-01T00:00:00Z'";
        long bob;
        using (var store = GalleryStores.Open(location, Model))
        {
            store.Enroll("Ann", [new NewFace(Unit(r, 32))]);
            bob = store.Enroll("Bob", [new NewFace(Unit(r, 32))]).SubjectId;
            store.Enroll("Cid", [new NewFace(Unit(r, 32))]);
        }
        Sql(kind, location, $"UPDATE subjects SET last_used = {old}");
        using (var store = GalleryStores.Open(location, Model))
        {
            store.Audit(new AuditEvent("door", AuditOperations.Identify, "known", "Bob", bob) { Matched = true }); // matched now
            store.Enroll("Cid", [new NewFace(Unit(r, 32))]);                                                    // a new face now
            store.Audit(new AuditEvent("door", AuditOperations.List, "ok"));                                     // not a use of anyone
            Assert.Equal(["Ann"], store.UnusedSince(DateTime.UtcNow.AddDays(-30)));
            Assert.Equal(1, Retention.Purge(store, TimeSpan.FromDays(30), "(retention)"));
            Assert.Equal(["Bob", "Cid"], store.Subjects().Select(s => s.Name));
            Assert.Contains(store.AuditTrail(), e => e.Operation == AuditOperations.Expire && e.Actor == "(retention)" && e.Subject is null);
            Assert.Equal(0, Retention.Purge(store, TimeSpan.FromDays(30), "(retention)"));
        }
    }

    [Fact]
    public async Task The_service_writes_who_did_what_and_sweeps_by_its_retention()
    {
        var gallery = Path.Combine(_dir, "service.db");
        var model = GalleryModel.For(FaceNet.Embedding.FaceModel.Load(null));
        using (var store = GalleryStore.Open(gallery, model))
            store.Enroll("Long Gone", [new NewFace(Unit(new Random(3), model.EmbeddingSize))]);
        Sql("sqlite", gallery, "UPDATE subjects SET last_used = '2020-01-01T00:00:00.0000000Z'");
        SqliteConnection.ClearAllPools();
        await using var s = await StartAsync(o => o with { Retention = TimeSpan.FromDays(365) }, gallery: gallery, dir: Directory.CreateDirectory(Path.Combine(_dir, "service")).FullName,
            keys: [("registrar", "admin", 1000), ("door", "identify", 1000)]);
        // the sweep at start erases the subject unused since 2020
        for (int i = 0; i < 100 && s.Host.Gallery!.SubjectCount > 0; i++) await Task.Delay(100);
        Assert.Equal(0, s.Host.Gallery!.SubjectCount);

        Assert.Equal(201, (await s.Post("/v1/subjects/Ada/faces", s.Keys["registrar"], Form(("image", Face("img1.jpg"))))).Status);
        Assert.Equal(200, (await s.Post("/v1/identify", s.Keys["door"], Form(("image", Face("img2.jpg"))))).Status);
        Assert.Equal(403, (await s.Post("/v1/subjects/Eve/faces", s.Keys["door"], Form(("image", Face("img3.jpg"))))).Status);
        Assert.Equal(401, (await s.Post("/v1/identify", null, Form(("image", Face("img2.jpg"))))).Status);
        var trail = s.Host.Gallery.Store.AuditTrail();
        Assert.Contains(trail, e => e is { Operation: "expire", Actor: "(retention)", Subject: null });
        Assert.Contains(trail, e => e is { Operation: "enroll", Actor: "registrar", Subject: "Ada", Outcome: "ok" });
        Assert.Contains(trail, e => e is { Operation: "identify", Actor: "door", Subject: "Ada", Outcome: "known" });
        Assert.Contains(trail, e => e is { Operation: "enroll", Actor: "door", Outcome: "403", Client: "127.0.0.1" });

        Assert.Equal(204, (await s.Send(HttpMethod.Delete, "/v1/subjects/Ada", s.Keys["registrar"])).Status);
        trail = s.Host.Gallery.Store.AuditTrail();
        Assert.DoesNotContain(trail, e => e.Subject == "Ada");
        Assert.Contains(trail, e => e is { Operation: "delete", Actor: "registrar", Outcome: "ok" });

        // a request without a key is counted with the other refusals of its client and minute, written once the minute is over
        await s.Host.DisposeAsync();
        using (var stopped = GalleryStore.Open(gallery, null, readOnly: true))
        {
            trail = stopped.AuditTrail();
            Assert.Contains(trail, e => e is { Operation: "authenticate", Actor: "(no key)", Outcome: "denied: 401 ×1", Count: 1, Client: "127.0.0.1" });
        }

        // the command line lists and exports it, one JSON line per event
        var export = Cli.CliRunner.Run("audit", "-g", gallery, "--json");
        Assert.Equal(0, export.ExitCode);
        Assert.Equal(trail.Count, export.OutLines.Length);
        Assert.All(export.OutLines, l => Assert.StartsWith("{\"seq\":", l));
    }

    [Fact]
    public void Subjects_purge_erases_through_the_command_line()
    {
        var gallery = Path.Combine(_dir, "cli.db");
        using (var store = GalleryStore.Open(gallery, Model))
        {
            store.Enroll("Old", [new NewFace(Unit(new Random(4), 32))]);
            store.Enroll("New", [new NewFace(Unit(new Random(5), 32))]);
        }
        Sql("sqlite", gallery, "UPDATE subjects SET last_used = '2020-01-01T00:00:00.0000000Z' WHERE name = 'Old'");
        var r = Cli.CliRunner.Run("subjects", "-g", gallery, "purge", "--older-than", "90d");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("erased 1 subject(s)", r.Out);
        var bad = Cli.CliRunner.Run("subjects", "-g", gallery, "purge", "--older-than", "soon");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--older-than: 'soon' is not a period", bad.Err);
        using var again = GalleryStore.Open(gallery, Model);
        Assert.Equal(["New"], again.Subjects().Select(s => s.Name));
        Assert.Contains(again.AuditTrail(), e => e.Operation == "expire" && e.Actor.StartsWith("cli:"));
    }
}
