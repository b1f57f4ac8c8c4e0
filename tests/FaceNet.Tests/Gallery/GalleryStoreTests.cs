using System.Runtime.InteropServices;
using FaceNet.Embedding;
using FaceNet.Gallery;
using Microsoft.Data.Sqlite;

namespace FaceNet.Tests.Gallery;

public sealed class GalleryStoreTests : IDisposable
{
    private static readonly GalleryModel Model = new("test-model:0123", 8, "fixed", FaceNet.Matching.Metric.Euclidean);
    private readonly TempFolder _temp = new("facenet-gallery-");
    private string _dir => _temp.Path;
    private string Db => Path.Combine(_dir, "g.db");

    public void Dispose() => _temp.Dispose();

    private static float[] Vec(int seed)
    {
        var r = new Random(seed);
        var v = Enumerable.Range(0, 8).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
        L2.NormalizeInPlace(v);
        return v;
    }

    [Fact]
    public void Enrolled_faces_come_back_with_their_provenance()
    {
        using (var g = GalleryStore.Open(Db, Model))
        {
            g.Enroll("Ann", [new NewFace(Vec(1), "/photos/a.jpg", "abc", [1, 2, 3, 4], "yunet"), new NewFace(Vec(2))]);
            g.Enroll("Bob", [new NewFace(Vec(3))]);
            g.Enroll("Ann", [new NewFace(Vec(4))]);
        }
        using var again = GalleryStore.Open(Db, null, readOnly: true);
        Assert.Equal(Model, again.Model);
        Assert.Equal([("Ann", 3), ("Bob", 1)], again.Subjects().Select(s => (s.Name, s.Faces)));
        var faces = again.Faces();
        Assert.Equal(4, faces.Count);
        Assert.Equal(Vec(1), faces[0].Embedding);
        Assert.Equal("/photos/a.jpg", faces[0].SourceFile);
        Assert.Equal([1, 2, 3, 4], faces[0].Box!);
        Assert.Equal("ok", again.IntegrityCheck());
    }

    [Fact]
    public void Another_model_is_refused()
    {
        using (var g = GalleryStore.Open(Db, Model)) g.Enroll("Ann", [new NewFace(Vec(1))]);
        var e = Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model with { Id = "other:9999" }));
        Assert.True(e.ModelMismatch);
        Assert.Contains("not comparable", e.Reason);
        Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model with { EmbeddingSize = 512 }));
        using var g2 = GalleryStore.Open(Db, Model);
        Assert.Throws<GalleryException>(() => g2.Enroll("Bob", [new NewFace(new float[16])]));
    }

    [Fact]
    public void Schema_is_versioned_and_a_newer_one_refused()
    {
        using (var g = GalleryStore.Open(Db, Model)) g.Enroll("Ann", [new NewFace(Vec(1))]);
        using (var c = new SqliteConnection($"Data Source={Db};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA user_version";
            Assert.Equal(5L, cmd.ExecuteScalar()); // 5: each face's yaw (4: the audit trail with clients, counts and its own retention)
            cmd.CommandText = "PRAGMA user_version = 99";
            cmd.ExecuteNonQuery();
        }
        var e = Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model));
        Assert.Contains("newer", e.Reason);
    }

    [Fact]
    public void A_file_that_is_not_a_gallery_is_refused_untouched()
    {
        File.WriteAllText(Db, "not a database, just some text that must stay as it is");
        var e = Assert.Throws<GalleryException>(() => GalleryStore.Open(Db, Model));
        Assert.Contains("not a gallery", e.Reason);
        Assert.Equal("not a database, just some text that must stay as it is", File.ReadAllText(Db));
    }

    [Fact]
    public void Remove_erases_the_embeddings_from_the_files()
    {
        var secret = Vec(77);
        using (var g = GalleryStore.Open(Db, Model))
        {
            g.Enroll("Keep", [new NewFace(Vec(1))]);
            g.Enroll("Gone", [new NewFace(secret, "/secret/photo.jpg")]);
            Assert.True(Contains(File.ReadAllBytes(Db).Concat(WalBytes()).ToArray(), MemoryMarshal.AsBytes(secret.AsSpan()).ToArray()));
            Assert.True(g.Remove("Gone"));
            Assert.False(g.Remove("Gone"));
            Assert.Equal(["Keep"], g.Subjects().Select(s => s.Name));
        }
        var everything = File.ReadAllBytes(Db).Concat(WalBytes()).ToArray();
        Assert.False(Contains(everything, MemoryMarshal.AsBytes(secret.AsSpan()).ToArray()), "the removed embedding is still in the gallery's files");
        Assert.False(Contains(everything, "/secret/photo.jpg"u8.ToArray()), "the removed file name is still in the gallery's files");
        using var again = GalleryStore.Open(Db, Model);
        Assert.Equal("ok", again.IntegrityCheck());
    }

    [Fact]
    public void Rename_keeps_the_faces_and_refuses_a_taken_name()
    {
        using var g = GalleryStore.Open(Db, Model);
        g.Enroll("Ann", [new NewFace(Vec(1))]);
        g.Enroll("Bob", [new NewFace(Vec(2))]);
        Assert.True(g.Rename("Ann", "Anne"));
        Assert.Equal(FaceNetErrorKind.Conflict, Assert.Throws<GalleryException>(() => g.Rename("Bob", "Anne")).Kind);
        Assert.Equal([("Anne", 1), ("Bob", 1)], g.Subjects().Select(s => (s.Name, s.Faces)));
    }

    private byte[] WalBytes() => File.Exists(Db + "-wal") ? File.ReadAllBytes(Db + "-wal") : [];

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public void A_version_1_gallery_is_read_as_it_is_and_migrated_when_written_without_losing_a_face()
    {
        // the schema of version 1 as earlier releases wrote it, with two subjects
        using (var c = new SqliteConnection($"Data Source={Db};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE subjects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL, metadata TEXT);
                CREATE TABLE faces (id INTEGER PRIMARY KEY, subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                    embedding BLOB NOT NULL, source_file TEXT, source_sha256 TEXT, box TEXT, detector TEXT, model_id TEXT NOT NULL, created TEXT NOT NULL);
                CREATE INDEX faces_subject ON faces(subject_id);
                INSERT INTO meta VALUES ('model_id', 'test-model:0123'), ('embedding_size', '8'), ('preprocess', 'fixed'), ('metric', 'euclidean');
                INSERT INTO subjects VALUES (1, 'Ann', '2026-01-01T00:00:00.0000000Z', NULL), (2, 'Bob', '2026-01-01T00:00:00.0000000Z', NULL);
                INSERT INTO faces VALUES (1, 1, $a, 'a.jpg', NULL, '1,2,3,4', 'yunet', 'test-model:0123', '2026-01-01T00:00:00.0000000Z'),
                                         (2, 2, $b, NULL, NULL, NULL, NULL, 'test-model:0123', '2026-01-01T00:00:00.0000000Z');
                PRAGMA user_version = 1;
                """;
            cmd.Parameters.AddWithValue("$a", MemoryMarshal.AsBytes(Vec(1).AsSpan()).ToArray());
            cmd.Parameters.AddWithValue("$b", MemoryMarshal.AsBytes(Vec(2).AsSpan()).ToArray());
            cmd.ExecuteNonQuery();
        }
        using (var old = GalleryStore.Open(Db, null, readOnly: true))
        {
            Assert.Equal(2, old.Faces().Count);
            Assert.Null(old.ChangesSince(0)); // no feed in version 1: followers read snapshots
        }
        using (var g = FaceGallery.Open(Db, Model))
        {
            Assert.Equal("Ann", g.Identify(Vec(1), 0.01).Name);
            Assert.True(g.Remove("Bob"));
            g.Enroll("Cid", [new NewFace(Vec(3))]);
        }
        using var store = GalleryStore.Open(Db, Model);
        var faces = store.Faces();
        Assert.Equal([1L, 3L], faces.Select(f => f.Id)); // Bob's id 2 is not given again
        Assert.Equal(Vec(1), faces[0].Embedding);
        Assert.Equal([1, 2, 3, 4], faces[0].Box!);
        Assert.Equal(["Ann", "Cid"], store.Subjects().Select(s => s.Name));
        Assert.Equal(3, store.Subjects().Single(s => s.Name == "Cid").Id);
        Assert.Equal("ok", store.IntegrityCheck());
    }
}
