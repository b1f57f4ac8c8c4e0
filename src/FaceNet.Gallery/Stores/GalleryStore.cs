using System.Globalization;
using FaceNet.Gallery.Protection;
using Microsoft.Data.Sqlite;

namespace FaceNet.Gallery;

/// <summary>
/// Enrolled subjects and their face embeddings in SQLite (WAL mode: readers in other processes go on
/// while one writer enrols). Each enrolment is one transaction, so a crash keeps every face
/// already reported enrolled and never half of one. Removal is an erasure: rows deleted with
/// <c>secure_delete</c>, the WAL checkpointed and truncated. Every write appends to a change feed
/// (ids and names only, never embeddings), which other processes on the same file follow.
/// The schema is versioned (<c>PRAGMA user_version</c>) and migrated forward on open.
/// </summary>
public sealed partial class GalleryStore : IGalleryStore, IProtectedStore
{
    private readonly SqliteConnection _db;
    // One SQLite connection is not safe for concurrent use: every command runs under this lock.
    private readonly object _gate = new();

    // false for an older gallery opened read-only (it has no feed; nobody can be writing it through us)
    private readonly bool _feed;
    // false for a gallery of schema 4 or older opened read-only: its faces have no yaw column (they count as frontal)
    private bool _poses = true;
    // false for a gallery of before the audit trail opened read-only
    private readonly bool _audit;
    // the audit trail has the client and count columns (schema 4)
    private readonly bool _auditClients;

    // an encrypted gallery's data key, and its cipher (null for a plain gallery)
    private byte[]? _dataKey;
    private FaceCipher? _cipher;

    private GalleryStore(string path, SqliteConnection db, GalleryModel model, bool feed, byte[]? dataKey)
    {
        Path = path;
        _db = db;
        Model = model;
        _feed = feed;
        _audit = feed && Scalar<long>(db, "PRAGMA user_version") >= 3;
        _auditClients = Scalar<long>(db, "PRAGMA user_version") >= 4;
        SetDataKey(dataKey);
    }

    public string Path { get; }
    public string Location => Path;
    public GalleryModel Model { get; }

    /// <summary>Whether the faces are stored encrypted (<see cref="GalleryProtection"/>).</summary>
    public bool Encrypted => _cipher is not null;

    private void SetDataKey(byte[]? dataKey)
    {
        _cipher?.Dispose();
        _dataKey = dataKey;
        _cipher = dataKey is null ? null : new FaceCipher(dataKey);
    }

    /// <summary>
    /// Opens (or creates) a gallery for <paramref name="model"/>. An existing gallery bound to another
    /// model is refused. With <paramref name="model"/> null an existing gallery opens with its own binding.
    /// An encrypted gallery needs its <paramref name="key"/> (refused before anything is written without
    /// it); a new gallery created with a key is encrypted from its first face.
    /// </summary>
    /// <param name="create">false: an existing gallery only (a tenant's that may be removed meanwhile is never made again by opening it).</param>
    public static GalleryStore Open(string path, GalleryModel? model, bool readOnly = false, MasterKey? key = null, bool create = true)
        => Open(path, model, readOnly, key, create, plainWithKey: false);

    internal static GalleryStore Open(string path, GalleryModel? model, bool readOnly, MasterKey? key, bool create, bool plainWithKey)
    {
        bool exists = File.Exists(path);
        if (!exists && (readOnly || model is null || !create)) throw Directory.Exists(path)
            ? new GalleryException(path, "is a folder, not a gallery")
            : new GalleryException(path, "no such gallery (enrol someone first)", FaceNetErrorKind.NotFound);
        if (!exists) CreateOwnerOnly(path);
        try { return Open(path, model, readOnly, exists, immutable: false, key, plainWithKey); }
        catch (GalleryException e) when (readOnly && e.InnerException is SqliteException { SqliteErrorCode: 8 or 14 })
        {
            // A WAL database is read through a shared-memory file beside it; where that cannot be made (a
            // read-only folder), nobody can be writing the gallery either: read it as an unchanging file.
            return Open(path, model, readOnly, exists, immutable: true, key, plainWithKey);
        }
    }

    // an empty file (an empty SQLite database) made 0600 before SQLite writes to it: its -wal and -shm take its mode
    private static void CreateOwnerOnly(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = AtomicFile.OwnerOnly;
        try { new FileStream(path, options).Dispose(); }
        catch (IOException) when (File.Exists(path)) { } // made by another process meanwhile: SQLite opens theirs
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GalleryException(path, "cannot create the gallery file (missing folder, or no permission)", FaceNetErrorKind.Unavailable, e);
        }
    }

    private static GalleryStore Open(string path, GalleryModel? model, bool readOnly, bool exists, bool immutable, MasterKey? key, bool plainWithKey)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = immutable ? new Uri(System.IO.Path.GetFullPath(path)).AbsoluteUri + "?immutable=1" : path,
            // never ReadWriteCreate: a file deleted since it was found (a removed tenant's) is not made again
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 30,
        };
        var db = new SqliteConnection(builder.ToString());
        try
        {
            db.Open();
            Exec(db, "PRAGMA busy_timeout = 10000;");
            // someone else's SQLite file: no schema version of ours, but tables of its own; leave it alone
            if (exists && Scalar<long>(db, "PRAGMA user_version") == 0 && Scalar<long>(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'") > 0)
                throw new GalleryException(path, "not a FaceNet gallery (an SQLite database with other tables); nothing was changed",
                    FaceNetErrorKind.CorruptStore);
            // an encrypted gallery is unlocked before anything is written to it (a wrong key changes nothing)
            byte[]? dataKey = exists && Scalar<long>(db, "PRAGMA user_version") >= 1 ? GalleryKeys.Unlock(ReadMeta(db), key, path) : null;
            // a key given to a gallery that holds plain faces would protect nothing it holds: refused, not ignored
            if (key is not null && dataKey is null && !plainWithKey && exists && Scalar<long>(db, "PRAGMA user_version") >= 1
                && ReadModel(db) is not null && Scalar<long>(db, "SELECT count(*) FROM faces") > 0)
                throw GalleryKeys.PlainWithKey(path);
            if (!readOnly)
            {
                Exec(db, "PRAGMA journal_mode = WAL;");
                Exec(db, "PRAGMA synchronous = FULL;");
            }
            Exec(db, "PRAGMA secure_delete = ON;");
            if (!readOnly) Migrate(db, path);
            else if (Scalar<long>(db, "PRAGMA user_version") is var v && (v < 1 || v > SchemaVersion))
                throw new GalleryException(path, $"gallery schema version {v}, this program reads 1 to {SchemaVersion}", FaceNetErrorKind.CorruptStore);
            Exec(db, "PRAGMA foreign_keys = ON;");
            bool feed = Scalar<long>(db, "PRAGMA user_version") >= 2;
            var bound = ReadModel(db);
            if (bound is null)
            {
                if (model is null) throw new GalleryException(path, "gallery is not bound to a model", FaceNetErrorKind.CorruptStore);
                // a new gallery given a key is encrypted before its first face
                if (key is not null && dataKey is null && Scalar<long>(db, "SELECT count(*) FROM faces") == 0) dataKey = FaceCipher.NewDataKey();
                WriteModel(db, model, key is not null && dataKey is not null ? GalleryKeys.Entries(key, dataKey) : []);
                bound = model;
            }
            else if (model is not null && !model.Matches(bound))
                throw new GalleryException(path, $"gallery is bound to model {bound}; embeddings of model {model} are not comparable with it (use the model that enrolled it, or 'facenet migrate' to re-embed its faces)", FaceNetErrorKind.ModelMismatch);
            else if (key is not null && dataKey is null && !readOnly && Scalar<long>(db, "SELECT count(*) FROM faces") == 0)
            {
                // a bound gallery without a face yet, given a key: encrypted before its first face, as a new one is
                dataKey = FaceCipher.NewDataKey();
                using var tx = db.BeginTransaction();
                WriteMeta(db, tx, GalleryKeys.Entries(key, dataKey));
                tx.Commit();
            }
            return new GalleryStore(path, db, bound, feed, dataKey) { _poses = Scalar<long>(db, "PRAGMA user_version") >= 5 };
        }
        catch (SqliteException e)
        {
            db.Dispose();
            var (reason, kind) = e.SqliteErrorCode switch
            {
                26 => ("not a gallery (not an SQLite database)", FaceNetErrorKind.CorruptStore),
                8 => ("cannot write to the gallery (read-only file or folder)", FaceNetErrorKind.Unavailable),
                14 => ("cannot open the gallery file (missing folder, or no permission)", FaceNetErrorKind.Unavailable),
                _ => ("cannot open gallery: " + e.Message, FaceNetErrorKind.Unavailable),
            };
            throw new GalleryException(path, reason, kind, e);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>People to enrol, checked before any write: names, embedding sizes, finite values; photos' hashes filled in.</summary>
    internal static List<(string Name, List<NewFace> Faces)> Checked(IGalleryStore store, IReadOnlyList<(string Name, IReadOnlyList<NewFace> Faces)> people)
        => people.Select(p =>
        {
            ValidateName(p.Name);
            var faces = p.Faces.Select(f => f.SourceSha256 is null && f.SourceFile is not null
                && File.Exists(f.SourceFile) ? f with { SourceSha256 = Imaging.FileHash.Sha256(f.SourceFile) } : f).ToList();
            foreach (var f in faces)
            {
                if (f.Embedding.Length != store.Model.EmbeddingSize)
                    throw new GalleryException(store.Location,
                        $"embedding of {f.Embedding.Length} values, the gallery holds {store.Model.EmbeddingSize}-d embeddings");
                if (f.Embedding.Any(v => !float.IsFinite(v))) throw new ArgumentException("embedding holds non-finite values");
            }
            return (p.Name, Faces: faces);
        }).ToList();

    /// <summary>
    /// A subject's name: 1 to 200 characters, no control characters, no leading or trailing space. Names
    /// are data only: never paths, never SQL (parameters).
    /// </summary>
    public static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("a subject needs a name");
        if (name.Length > 200) throw new ArgumentException($"a subject's name is at most 200 characters; this one has {name.Length}");
        if (name.Any(char.IsControl)) throw new ArgumentException("a subject's name holds a control character");
        if (name != name.Trim()) throw new ArgumentException("a subject's name does not start or end with a space");
    }

    bool IProtectedStore.Encrypt(MasterKey key)
    {
        lock (_gate) try
        {
            if (_cipher is not null)
            {
                Compact();
                return false;
            }
            Reseal(key, FaceCipher.NewDataKey());
            return true;
        }
        catch (SqliteException e) when (e.SqliteErrorCode != 19) { throw Unwritable(e); } // 19: a constraint, answered where it can happen
    }

    void IProtectedStore.Rekey(MasterKey next, bool rotateDataKey)
    {
        lock (_gate) try
        {
            if (_dataKey is null) throw new GalleryException(Path, "the gallery is not encrypted ('encrypt' encrypts it)", FaceNetErrorKind.Conflict);
            if (rotateDataKey)
            {
                Reseal(next, FaceCipher.NewDataKey());
                return;
            }
            // the data key stays: only its wrapping changes, one metadata row
            using (var tx = _db.BeginTransaction())
            {
                WriteMeta(_db, tx, GalleryKeys.Entries(next, _dataKey));
                tx.Commit();
            }
            Exec(_db, "PRAGMA wal_checkpoint(TRUNCATE);");
        }
        catch (SqliteException e) when (e.SqliteErrorCode != 19) { throw Unwritable(e); } // 19: a constraint, answered where it can happen
    }

    /// <summary>
    /// Every face sealed again under <paramref name="dataKey"/> (wrapped under <paramref name="key"/>) in one
    /// transaction — after a crash the gallery is as it was or wholly re-sealed — then VACUUM rewrites the
    /// file so no page keeps the old bytes, and the saved search graph (plain copies) goes.
    /// </summary>
    private void Reseal(MasterKey key, byte[] dataKey)
    {
        var cipher = new FaceCipher(dataKey);
        try
        {
            using (var tx = _db.BeginTransaction())
            {
                using var read = _db.CreateCommand();
                read.Transaction = tx;
                read.CommandText = "SELECT id, embedding FROM faces WHERE id > $after ORDER BY id LIMIT 2000";
                var after = read.Parameters.AddWithValue("$after", 0L);
                using var write = _db.CreateCommand();
                write.Transaction = tx;
                write.CommandText = "UPDATE faces SET embedding = $e WHERE id = $id";
                var (pe, pid) = (write.Parameters.Add("$e", SqliteType.Blob), write.Parameters.Add("$id", SqliteType.Integer));
                while (true)
                {
                    var page = new List<(long Id, float[] Vector)>();
                    using (var r = read.ExecuteReader())
                        while (r.Read()) page.Add((r.GetInt64(0), Vector(r.GetInt64(0), (byte[])r[1])));
                    if (page.Count == 0) break;
                    foreach (var (id, vector) in page)
                    {
                        pid.Value = id;
                        pe.Value = cipher.Seal(id, vector);
                        write.ExecuteNonQuery();
                    }
                    after.Value = page[^1].Id;
                }
                WriteMeta(_db, tx, GalleryKeys.Entries(key, dataKey));
                tx.Commit();
            }
        }
        finally { cipher.Dispose(); }
        SetDataKey(dataKey);
        Compact();
    }

    // the file rewritten (no page keeps old bytes), the WAL emptied, the saved graph (plain copies) gone
    private void Compact()
    {
        Exec(_db, "VACUUM;");
        Exec(_db, "PRAGMA wal_checkpoint(TRUNCATE);");
        DeleteGraphFiles();
    }

    private void DeleteGraphFiles()
    {
        foreach (var sidecar in new[] { Path + ".hnsw", Path + ".hnsw.stamp" })
            if (File.Exists(sidecar)) File.Delete(sidecar);
    }

    public string? WriteProblem()
    {
        lock (_gate)
        {
            if (_db.State != System.Data.ConnectionState.Open) return "the gallery is closed";
            // SQLite opens a file it cannot write (permissions, an immutable file, a read-only mount) read-only, without a word
            if (SQLitePCL.raw.sqlite3_db_readonly(_db.Handle, "main") != 0) return $"{Path}: the gallery file cannot be written (read-only file or folder)";
        }
        return null;
    }

    /// <summary>SQLite's own integrity check: "ok" for a sound file.</summary>
    public string IntegrityCheck()
    {
        lock (_gate) return Scalar<string>(_db, "PRAGMA integrity_check") ?? "";
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _db.Dispose();
            _cipher?.Dispose();
        }
    }

    private static string Now() => Stamp(DateTime.UtcNow);

    private static string Stamp(DateTime t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>
    /// A write under the connection's lock; SQLite's own failures (a file that cannot be written, a disk that is full,
    /// a lock held too long) become <see cref="FaceNetErrorKind.Unavailable"/>: the store cannot take the write now.
    /// </summary>
    private T Write<T>(Func<T> write)
    {
        lock (_gate)
        {
            try { return write(); }
            catch (SqliteException e) { throw Unwritable(e); }
        }
    }

    private void Write(Action write) => Write(() => { write(); return 0; });

    private GalleryException Unwritable(SqliteException e) => new(Path, e.SqliteErrorCode switch
    {
        8 => "the gallery cannot be written (read-only file or folder)",
        13 => "the gallery cannot be written (disk full)",
        5 or 6 => "the gallery is locked by another process; try again",
        _ => "the gallery cannot be written: " + e.Message,
    }, FaceNetErrorKind.Unavailable, e);

    private static void Exec(SqliteConnection db, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static T? Scalar<T>(SqliteConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        var v = cmd.ExecuteScalar();
        return v is null or DBNull ? default : (T)Convert.ChangeType(v, typeof(T), CultureInfo.InvariantCulture);
    }
}
