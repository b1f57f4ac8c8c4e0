using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit.Abstractions;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// Encryption at rest: the bytes of enrolled vectors are nowhere in the files (SQLite's database and WAL,
/// PostgreSQL's data folder), a gallery without its key is refused and left as it was, keys change without
/// losing a face, erasure still erases, and a kill -9 in the middle of encrypting leaves a usable gallery.
/// </summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
[Collection("postgres")]
public sealed class EncryptionTests(PostgresServer postgres, ITestOutputHelper output) : IDisposable
{
    private static readonly GalleryModel Model = new("crypt-model:01", 64, "fixed", FaceNet.Matching.Metric.Euclidean);
    private readonly TempFolder _temp = new("facenet-crypt-");
    private string _dir => _temp.Path;
    private string Db => Path.Combine(_dir, "g.db");

    public void Dispose() => _temp.Dispose();

    private MasterKey NewKeyFile(string name)
    {
        var file = Path.Combine(_dir, name);
        File.WriteAllText(file, MasterKey.Create().ToBase64() + "\n");
        return MasterKey.Load(file);
    }

    private static List<(string Name, float[] Vector)> People(int count, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(i => ($"person {i:D4}", Unit(r, Model.EmbeddingSize))).ToList();
    }

    private static void Enrol(IGalleryStore store, IEnumerable<(string Name, float[] Vector)> people)
        => store.EnrollMany(people.Select(p => (p.Name, (IReadOnlyList<NewFace>)[new NewFace(p.Vector, $"/photos/{p.Name}.jpg")])).ToList());

    private string[] SqliteFiles() => [Db, Db + "-wal"];

    /// <summary>Which of the vectors have their first 16 bytes somewhere in the files (one pass per file).</summary>
    private static int VectorsFoundIn(IEnumerable<string> files, IEnumerable<float[]> vectors)
    {
        var heads = vectors.Select(v => MemoryMarshal.AsBytes(v.AsSpan())[..16].ToArray()).ToList();
        var byPrefix = heads.GroupBy(h => BitConverter.ToInt64(h, 0)).ToDictionary(g => g.Key, g => g.ToList());
        var found = new HashSet<byte[]>();
        foreach (var file in files.Where(File.Exists))
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(file); }
            catch (IOException) { continue; } // a socket or a file the server holds exclusively
            for (int i = 0; i + 16 <= bytes.Length; i++)
                if (byPrefix.TryGetValue(BitConverter.ToInt64(bytes, i), out var candidates))
                    foreach (var c in candidates)
                        if (bytes.AsSpan(i, 16).SequenceEqual(c)) found.Add(c);
        }
        return found.Count;
    }

    private static void AssertEveryFaceIsFound(IGalleryStore store, List<(string Name, float[] Vector)> people)
    {
        using var gallery = FaceGallery.Open(store);
        foreach (var (name, vector) in people)
        {
            var id = gallery.Identify(vector, threshold: 0.01); // float32 dot products: the same vector is ~5e-4 away
            Assert.Equal(name, id.Name);
            Assert.True(id.Distance < 0.01);
        }
    }

    [Fact]
    public void An_encrypted_sqlite_gallery_holds_no_vector_in_the_clear_and_finds_every_face()
    {
        var key = NewKeyFile("master.key");
        var people = People(300, 1);
        using (var store = GalleryStore.Open(Db, Model, key: key))
        {
            Assert.True(store.Encrypted);
            Enrol(store, people.Take(150));
            Enrol(store, people.Skip(150));
            Assert.Equal(0, VectorsFoundIn(SqliteFiles(), people.Select(p => p.Vector)));
        }
        Assert.Equal(0, VectorsFoundIn(SqliteFiles(), people.Select(p => p.Vector)));
        Assert.True(GalleryProtection.IsEncrypted(Db));
        using var again = GalleryStore.Open(Db, Model, key: key);
        AssertEveryFaceIsFound(again, people);

        // the check can fail: a plain gallery's vectors are found by it
        var plain = Path.Combine(_dir, "plain.db");
        using (var p = GalleryStore.Open(plain, Model)) Enrol(p, people.Take(20));
        Assert.Equal(20, VectorsFoundIn([plain, plain + "-wal"], people.Take(20).Select(p => p.Vector)));
        Assert.False(GalleryProtection.IsEncrypted(plain));
    }

    [Fact]
    public void Without_its_key_or_with_another_an_encrypted_gallery_is_refused_and_left_unchanged()
    {
        var key = NewKeyFile("master.key");
        var other = NewKeyFile("other.key");
        using (var store = GalleryStore.Open(Db, Model, key: key)) Enrol(store, People(10, 2));
        SqliteConnection.ClearAllPools();
        // (opening a WAL database may leave an empty -wal beside it: no content of the gallery)
        string Hash() => string.Join(",", SqliteFiles().Where(f => File.Exists(f) && new FileInfo(f).Length > 0).Select(f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));
        var before = Hash();
        var missing = Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model));
        Assert.Equal(FaceNetErrorKind.Locked, missing.Kind);
        Assert.Contains($"its master key (id {key.Id}) is needed", missing.Message);
        var wrong = Assert.Throws<GalleryException>(() => GalleryStores.Open(Db, null, key: other));
        Assert.Equal(FaceNetErrorKind.Locked, wrong.Kind);
        Assert.Contains($"(id {other.Id}) is not this gallery's (id {key.Id}); nothing was changed", wrong.Message);
        Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model, readOnly: true, key: other));
        SqliteConnection.ClearAllPools();
        Assert.Equal(before, Hash());

        // the CLI: exit 3 with the reason and where the key goes; the service does not start
        var identify = Cli.CliRunner.Run("subjects", "-g", Db, "--master-key-file", other.Source);
        Assert.Equal(3, identify.ExitCode);
        Assert.Contains("is not this gallery's", identify.Err);
        var serve = Cli.CliRunner.Run("serve", "-g", Db, "--urls", "http://127.0.0.1:0", "--keys", Path.Combine(_dir, "keys.json"));
        Assert.Equal(3, serve.ExitCode);
        Assert.Contains("the gallery is encrypted", serve.Err);
        Assert.Equal(before, Hash());
        var listed = Cli.CliRunner.Run("subjects", "-g", Db, "--master-key-file", key.Source);
        Assert.Equal(0, listed.ExitCode);
        Assert.Contains("10 subject(s)", listed.Out);
    }

    [Fact]
    public void A_key_file_that_is_not_a_key_is_refused_naming_the_file()
    {
        var bad = Path.Combine(_dir, "bad.key");
        File.WriteAllText(bad, Convert.ToBase64String(new byte[16]));
        Assert.Contains("a master key is 32 bytes; this file holds 16", Assert.Throws<MasterKeyException>(() => MasterKey.Load(bad)).Message);
        File.WriteAllText(bad, "not base64 at all!");
        Assert.StartsWith(bad + ": not a master key", Assert.Throws<MasterKeyException>(() => MasterKey.Load(bad)).Message);
        Assert.Contains("no such master key file", Assert.Throws<MasterKeyException>(() => MasterKey.Load(bad + ".missing")).Message);
        var r = Cli.CliRunner.Run("subjects", "-g", Db, "--master-key-file", bad);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(bad, r.Err);
    }

    [Fact]
    public void Encrypt_in_place_then_rekey_and_rotate_keep_every_face()
    {
        var people = People(200, 3);
        using (var store = GalleryStore.Open(Db, Model)) Enrol(store, people);
        Assert.Equal(200, VectorsFoundIn(SqliteFiles(), people.Select(p => p.Vector)));
        var first = NewKeyFile("first.key");
        GalleryProtection.Encrypt(Db, first);
        Assert.Equal(0, VectorsFoundIn(SqliteFiles(), people.Select(p => p.Vector)));
        Assert.False(GalleryProtection.Encrypt(Db, first)); // encrypted already: only cleaned again (finishes a run killed while cleaning)
        Assert.Equal(FaceNetErrorKind.Locked, Assert.Throws<GalleryException>(() => GalleryProtection.Encrypt(Db, NewKeyFile("other.key"))).Kind);
        using (var store = GalleryStore.Open(Db, Model, key: first)) AssertEveryFaceIsFound(store, people);

        var second = NewKeyFile("second.key");
        var sealedBefore = SealedBlobs();
        GalleryProtection.Rekey(Db, first, second);
        Assert.Equal(sealedBefore, SealedBlobs()); // no face re-encrypted: only the wrapping changed
        Assert.Equal(FaceNetErrorKind.Locked, Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model, key: first)).Kind);
        using (var store = GalleryStore.Open(Db, Model, key: second)) AssertEveryFaceIsFound(store, people);

        GalleryProtection.Rekey(Db, second, second, rotateDataKey: true);
        var sealedAfter = SealedBlobs();
        Assert.All(sealedBefore.Zip(sealedAfter), p => Assert.NotEqual(p.First, p.Second));
        Assert.Equal(0, VectorsFoundIn(SqliteFiles(), people.Select(p => p.Vector)));
        using (var store = GalleryStore.Open(Db, Model, key: second))
        {
            Assert.Equal("ok", store.IntegrityCheck());
            // each change of keys is in the audit trail, naming the key by its id only
            Assert.Equal(["encrypt", "encrypt", "rekey", "rekey"], store.AuditTrail().Select(e => e.Operation));
            Assert.Contains(second.Id, store.AuditTrail()[^1].Outcome);
            Assert.DoesNotContain(store.AuditTrail(), e => e.Outcome.Contains(second.ToBase64()));
        }
        using (var store = GalleryStore.Open(Db, Model, key: second)) AssertEveryFaceIsFound(store, people); // the gallery disposes the store
    }

    private List<string> SealedBlobs()
    {
        using var c = new SqliteConnection($"Data Source={Db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT embedding FROM faces ORDER BY id";
        using var r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read()) list.Add(Convert.ToHexString((byte[])r[0]));
        return list;
    }

    [Fact]
    public void Removing_a_subject_of_an_encrypted_gallery_erases_its_sealed_and_plain_bytes()
    {
        var key = NewKeyFile("master.key");
        var people = People(5, 4);
        using var store = GalleryStore.Open(Db, Model, key: key);
        Enrol(store, people);
        var sealedValue = Convert.FromHexString(SealedBlobs()[2]);
        Assert.True(File.ReadAllBytes(Db).Concat(File.ReadAllBytes(Db + "-wal")).ToArray().AsSpan().IndexOf(sealedValue) >= 0);
        Assert.True(store.Remove(people[2].Name));
        var everything = SqliteFiles().Where(File.Exists).SelectMany(File.ReadAllBytes).ToArray();
        Assert.True(everything.AsSpan().IndexOf(sealedValue) < 0, "the erased face's sealed bytes are still in the files");
        Assert.Equal(0, VectorsFoundIn(SqliteFiles(), [people[2].Vector]));
        Assert.Equal(4, store.Faces().Count);
    }

    [Fact]
    public void Kill_9_while_encrypting_leaves_the_gallery_plain_or_encrypted_never_half()
    {
        var people = People(60_000, 5);
        using (var store = GalleryStore.Open(Db, Model)) Enrol(store, people);
        var key = NewKeyFile("master.key");
        var sample = people.Where((_, i) => i % 997 == 0).ToList();
        var outcomes = new List<string>();
        // later and later kills until one run finishes: on any machine some land inside the transaction
        for (int delay = 300; delay <= 10_000 && !GalleryProtection.IsEncrypted(Db); delay += 150)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])[typeof(FaceNet.Cli.FaceNetCli).Assembly.Location, "gallery", "encrypt", "-g", Db, "--master-key-file", key.Source])
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            bool ended = p.WaitForExit(delay);
            if (!ended) p.Kill(entireProcessTree: true); // SIGKILL: no rollback code runs, SQLite's journal does it
            p.WaitForExit();
            long wal = File.Exists(Db + "-wal") ? new FileInfo(Db + "-wal").Length : 0; // > 0: killed while writing
            SqliteConnection.ClearAllPools();
            // either state opens, with every face as it was enrolled
            IGalleryStore opened;
            try { opened = GalleryStore.Open(Db, Model); outcomes.Add(ended ? "finished plain?" : $"killed at {delay} ms: plain (WAL {wal} bytes)"); }
            catch (GalleryException e) when (e.Kind == FaceNetErrorKind.Locked)
            {
                opened = GalleryStore.Open(Db, Model, key: key);
                outcomes.Add(ended ? $"finished at {delay} ms: encrypted" : $"killed at {delay} ms: encrypted (WAL {wal} bytes)");
            }
            using (opened)
            {
                var faces = opened.Faces();
                Assert.Equal(people.Count, faces.Count);
                var byName = opened.Subjects().ToDictionary(s => s.Id, s => s.Name);
                var vectors = faces.ToDictionary(f => byName[f.SubjectId], f => f.Embedding);
                foreach (var (name, vector) in sample) Assert.Equal(vector, vectors[name]);
                Assert.Equal("ok", ((GalleryStore)opened).IntegrityCheck());
            }
        }
        output.WriteLine(string.Join("; ", outcomes));
        Assert.Contains(outcomes, o => o.StartsWith("killed") && !o.EndsWith("(WAL 0 bytes)")); // at least one kill inside the writing
        GalleryProtection.Encrypt(Db, key); // finishes the encryption, or the cleaning a kill may have cut short
        using (var store = GalleryStore.Open(Db, Model, key: key)) Assert.Equal(people.Count, store.Faces().Count);
        Assert.Equal(0, VectorsFoundIn(SqliteFiles(), sample.Select(p => p.Vector)));
        Assert.DoesNotContain("finished plain?", outcomes);
    }

    [Fact]
    public void An_encrypted_postgres_gallery_holds_no_vector_in_its_data_files()
    {
        var key = NewKeyFile("master.key");
        var people = People(120, 6);
        var db = postgres.NewDatabase();
        using (var store = PostgresGalleryStore.Open(db, Model, key: key))
        {
            Assert.True(store.Encrypted);
            Enrol(store, people.Take(60));
            Enrol(store, people.Skip(60));
            Assert.True(store.Remove(people[7].Name));
        }
        // a plain gallery in the same cluster: the scan finds its vectors, so it can find the others
        var plainDb = postgres.NewDatabase();
        var plain = People(30, 7);
        using (var store = PostgresGalleryStore.Open(plainDb, Model)) Enrol(store, plain);
        using (var c = new NpgsqlConnection(postgres.Admin))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("CHECKPOINT", c);
            cmd.ExecuteNonQuery();
        }
        var files = Directory.EnumerateFiles(postgres.DataDirectory, "*", SearchOption.AllDirectories).ToList();
        Assert.Equal(30, VectorsFoundIn(files, plain.Select(p => p.Vector)));
        Assert.Equal(0, VectorsFoundIn(files, people.Select(p => p.Vector)));

        Assert.Equal(FaceNetErrorKind.Locked, Assert.Throws<GalleryException>(() => PostgresGalleryStore.Open(db, Model)).Kind);
        var next = NewKeyFile("next.key");
        GalleryProtection.Rekey(db, key, next, rotateDataKey: true);
        Assert.Equal(FaceNetErrorKind.Locked, Assert.Throws<GalleryException>(() => PostgresGalleryStore.Open(db, Model, key: key)).Kind);
        using (var store = PostgresGalleryStore.Open(db, Model, key: next))
            AssertEveryFaceIsFound(store, people.Where((_, i) => i != 7).ToList());

        // a plain PostgreSQL gallery encrypted in place: its old rows are vacuumed out of the table's files
        GalleryProtection.Encrypt(plainDb, next);
        using (var c = new NpgsqlConnection(postgres.Admin))
        {
            c.Open();
            using var cmd = new NpgsqlCommand("CHECKPOINT", c);
            cmd.ExecuteNonQuery();
        }
        using (var store = PostgresGalleryStore.Open(plainDb, Model, key: next)) AssertEveryFaceIsFound(store, plain);
        var tableFiles = Directory.EnumerateFiles(Path.Combine(postgres.DataDirectory, "base"), "*", SearchOption.AllDirectories).ToList();
        Assert.Equal(0, VectorsFoundIn(tableFiles, plain.Select(p => p.Vector)));
    }
}
