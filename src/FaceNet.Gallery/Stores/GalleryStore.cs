using System.Globalization;
using System.Runtime.InteropServices;
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
public sealed class GalleryStore : IGalleryStore, IProtectedStore
{
    private const int SchemaVersion = 5;
    private static readonly string[] Migrations =
    [
        // 0 → 1
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE subjects (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            metadata TEXT);
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
            embedding BLOB NOT NULL,
            source_file TEXT,
            source_sha256 TEXT,
            box TEXT,
            detector TEXT,
            model_id TEXT NOT NULL,
            created TEXT NOT NULL);
        CREATE INDEX faces_subject ON faces(subject_id);
        """,
        // 1 → 2: ids never reused (AUTOINCREMENT: a feed entry must not come to name a later subject's
        // faces), and the change feed. Foreign keys are off while tables are swapped.
        """
        ALTER TABLE subjects RENAME TO subjects_v1;
        ALTER TABLE faces RENAME TO faces_v1;
        DROP INDEX faces_subject;
        CREATE TABLE subjects (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            metadata TEXT);
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
            embedding BLOB NOT NULL,
            source_file TEXT,
            source_sha256 TEXT,
            box TEXT,
            detector TEXT,
            model_id TEXT NOT NULL,
            created TEXT NOT NULL);
        INSERT INTO subjects SELECT id, name, created, metadata FROM subjects_v1;
        INSERT INTO faces SELECT id, subject_id, embedding, source_file, source_sha256, box, detector, model_id, created FROM faces_v1;
        DROP TABLE faces_v1;
        DROP TABLE subjects_v1;
        CREATE INDEX faces_subject ON faces(subject_id);
        CREATE TABLE changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            subject_id INTEGER NOT NULL,
            name TEXT,
            first_face INTEGER,
            last_face INTEGER);
        CREATE INDEX changes_subject ON changes(subject_id);
        INSERT OR REPLACE INTO meta(key, value) VALUES ('feed_pruned_through', '0');
        """,
        // 2 → 3: when each subject was last enrolled or matched (retention), and the audit trail: append-only,
        // but for blanking an erased subject's name
        """
        ALTER TABLE subjects ADD COLUMN last_used TEXT;
        UPDATE subjects SET last_used = created;
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            operation TEXT NOT NULL,
            subject_id INTEGER,
            subject TEXT,
            outcome TEXT NOT NULL);
        CREATE INDEX audit_subject ON audit(subject_id);
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_only_blanking BEFORE UPDATE ON audit
            WHEN NEW.subject IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
                OR NEW.operation IS NOT OLD.operation OR NEW.subject_id IS NOT OLD.subject_id OR NEW.outcome IS NOT OLD.outcome
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """,
        // 3 → 4: the client's address and a count (a minute's refused requests of one client in one row), and the trail's
        // own retention: a deletion gets through only for entries older than the cutoff the sweep sets in its transaction
        """
        ALTER TABLE audit ADD COLUMN client TEXT;
        ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
        DROP TRIGGER audit_no_delete;
        DROP TRIGGER audit_only_blanking;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            WHEN (SELECT value FROM meta WHERE key = 'audit_prune_before') IS NULL OR OLD.at >= (SELECT value FROM meta WHERE key = 'audit_prune_before')
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only (only its retention sweep deletes old entries)'); END;
        CREATE TRIGGER audit_only_blanking BEFORE UPDATE ON audit
            WHEN NEW.subject IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
                OR NEW.operation IS NOT OLD.operation OR NEW.subject_id IS NOT OLD.subject_id OR NEW.outcome IS NOT OLD.outcome
                OR NEW.client IS NOT OLD.client OR NEW.count IS NOT OLD.count
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE INDEX audit_at ON audit(at);
        """,
        // 4 → 5: each face's yaw (degrees) at enrolment, for the pose-aware identification rule; NULL for the faces
        // enrolled before, which count as frontal (their landmarks were never stored, so the pose cannot be recovered)
        """
        ALTER TABLE faces ADD COLUMN yaw REAL;
        """,
        // (6: the next step goes here)
    ];

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

    private static void Migrate(SqliteConnection db, string path)
    {
        long version = Scalar<long>(db, "PRAGMA user_version");
        if (version > SchemaVersion) throw new GalleryException(path,
            $"gallery schema version {version} is newer than this program's {SchemaVersion}", FaceNetErrorKind.CorruptStore);
        for (long v = version; v < SchemaVersion; v++)
        {
            using var tx = db.BeginTransaction();
            Exec(db, Migrations[v], tx);
            Exec(db, $"PRAGMA user_version = {v + 1};", tx);
            tx.Commit();
        }
    }

    private static Dictionary<string, string> ReadMeta(SqliteConnection db, SqliteTransaction? tx = null)
    {
        var meta = new Dictionary<string, string>();
        using var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT key, value FROM meta";
        using var r = cmd.ExecuteReader();
        while (r.Read()) meta[r.GetString(0)] = r.GetString(1);
        return meta;
    }

    private static GalleryModel? ReadModel(SqliteConnection db)
    {
        var meta = ReadMeta(db);
        if (!meta.TryGetValue("model_id", out var id)) return null;
        return new GalleryModel(id, int.Parse(meta["embedding_size"], CultureInfo.InvariantCulture), meta["preprocess"],
            Matching.Metrics.Parse(meta["metric"]));
    }

    private static void WriteModel(SqliteConnection db, GalleryModel m, IEnumerable<(string Key, string Value)> more)
    {
        using var tx = db.BeginTransaction();
        (string, string)[] model = [("model_id", m.Id), ("embedding_size", m.EmbeddingSize.ToString(CultureInfo.InvariantCulture)),
            ("preprocess", m.Preprocess),
            ("metric", Matching.Metrics.Name(m.Metric)), ("created", Now())];
        WriteMeta(db, tx, [.. model, .. more]);
        tx.Commit();
    }

    private static void WriteMeta(SqliteConnection db, SqliteTransaction tx, IEnumerable<(string Key, string Value)> entries)
    {
        foreach (var (k, v) in entries)
        {
            using var cmd = db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES ($k, $v)";
            cmd.Parameters.AddWithValue("$k", k);
            cmd.Parameters.AddWithValue("$v", v);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Enrols several subjects' faces in one transaction (all or nothing): a bulk import of people costs
    /// one commit instead of one per subject.
    /// </summary>
    public IReadOnlyList<Enrollment> EnrollMany(IReadOnlyList<(string Name, IReadOnlyList<NewFace> Faces)> people, string? metadata = null)
    {
        var checkedPeople = Checked(this, people);
        lock (_gate) try
        {
            using var tx = _db.BeginTransaction();
            using var find = _db.CreateCommand();
            find.Transaction = tx;
            find.CommandText = "SELECT id FROM subjects WHERE name = $n";
            var findName = find.Parameters.Add("$n", SqliteType.Text);
            using var add = _db.CreateCommand();
            add.Transaction = tx;
            add.CommandText = "INSERT INTO subjects(name, created, metadata, last_used) VALUES ($n, $c, $m, $c) RETURNING id";
            var addName = add.Parameters.Add("$n", SqliteType.Text);
            var addCreated = add.Parameters.Add("$c", SqliteType.Text);
            add.Parameters.AddWithValue("$m", (object?)metadata ?? DBNull.Value);
            using var ins = _db.CreateCommand();
            ins.Transaction = tx;
            // a sealed vector carries its face's id, so an encrypted gallery names each id before it writes
            ins.CommandText = """
                INSERT INTO faces(id, subject_id, embedding, source_file, source_sha256, box, detector, model_id, created, yaw)
                VALUES ($id, $s, $e, $f, $h, $b, $d, $m, $c, $y) RETURNING id
                """;
            var py = ins.Parameters.Add("$y", SqliteType.Real);
            var (ps, pe, pf, ph, pb, pd, pc) = (ins.Parameters.Add("$s", SqliteType.Integer), ins.Parameters.Add("$e", SqliteType.Blob),
                ins.Parameters.Add("$f", SqliteType.Text), ins.Parameters.Add("$h", SqliteType.Text), ins.Parameters.Add("$b", SqliteType.Text),
                ins.Parameters.Add("$d", SqliteType.Text), ins.Parameters.Add("$c", SqliteType.Text));
            var pid = ins.Parameters.Add("$id", SqliteType.Integer);
            pid.Value = DBNull.Value;
            ins.Parameters.AddWithValue("$m", Model.Id);
            long nextId = _cipher is null ? 0 : NextFaceId(tx);
            var result = new List<Enrollment>(checkedPeople.Count);
            foreach (var (name, faces) in checkedPeople)
            {
                findName.Value = name;
                long subject;
                if (find.ExecuteScalar() is long id) subject = id;
                else
                {
                    addName.Value = name;
                    addCreated.Value = Now();
                    subject = (long)add.ExecuteScalar()!;
                }
                var ids = new List<long>(faces.Count);
                foreach (var f in faces)
                {
                    ps.Value = subject;
                    if (_cipher is null) pe.Value = MemoryMarshal.AsBytes(f.Embedding.AsSpan()).ToArray();
                    else
                    {
                        pid.Value = nextId;
                        pe.Value = _cipher.Seal(nextId++, f.Embedding);
                    }
                    pf.Value = (object?)f.SourceFile ?? DBNull.Value;
                    ph.Value = (object?)f.SourceSha256 ?? DBNull.Value;
                    pb.Value = f.Box is null ? DBNull.Value : string.Join(",", f.Box);
                    pd.Value = (object?)f.Detector ?? DBNull.Value;
                    py.Value = f.Yaw is { } yaw && double.IsFinite(yaw) ? yaw : DBNull.Value;
                    pc.Value = Now();
                    ids.Add((long)ins.ExecuteScalar()!);
                }
                result.Add(new Enrollment(subject, ids));
                if (ids.Count > 0)
                {
                    Record(tx, ChangeKind.Enrolled, subject, null, ids[0], ids[^1]);
                    if (_audit) Touch(tx, subject);
                }
            }
            tx.Commit();
            return result;
        }
        catch (SqliteException e) when (e.SqliteErrorCode != 19) { throw Unwritable(e); } // 19: a constraint, answered where it can happen
    }

    // the id AUTOINCREMENT would give next (inside a write transaction, which no other writer shares)
    private long NextFaceId(SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'faces'), 0), COALESCE((SELECT max(id) FROM faces), 0)) + 1";
        return (long)cmd.ExecuteScalar()!;
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

    /// <summary>Subjects and faces read in one transaction: what <see cref="FaceGallery"/> loads.</summary>
    public GallerySnapshot Snapshot()
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: true);
            return new GallerySnapshot(ReadSubjects(tx), ReadFaces(tx, null), _feed ? LastChange(tx) : 0);
        }
    }

    private long LastChange(SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)";
        return (long)cmd.ExecuteScalar()!;
    }

    public IReadOnlyList<GalleryChange>? ChangesSince(long sequence, int max = 10_000)
    {
        if (!_feed) return null;
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: true);
            return ChangeFeed.Read(_db, tx, "", sequence, max, (subject, first, last) => ReadFaces(tx, (subject, first, last)));
        }
    }

    /// <summary>SQLite tells nobody of a commit: followers poll (one indexed read of the feed's end).</summary>
    public Task WaitForChangesAsync(TimeSpan timeout, CancellationToken ct) => Task.Delay(timeout, ct);

    private void Record(SqliteTransaction tx, ChangeKind kind, long subject, string? name, long? firstFace = null, long? lastFace = null)
        => ChangeFeed.Record(_db, tx, "", kind, subject, name, firstFace, lastFace);

    public IReadOnlyList<Subject> Subjects()
    {
        lock (_gate) return ReadSubjects(null);
    }

    private List<Subject> ReadSubjects(SqliteTransaction? tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT s.id, s.name, s.created, s.metadata, COUNT(f.id) FROM subjects s LEFT JOIN faces f ON f.subject_id = s.id GROUP BY s.id ORDER BY s.name";
        using var r = cmd.ExecuteReader();
        var list = new List<Subject>();
        while (r.Read())
            list.Add(new Subject(r.GetInt64(0), r.GetString(1),
                DateTime.Parse(r.GetString(2), CultureInfo.InvariantCulture,
                DateTimeStyles.RoundtripKind), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt32(4)));
        return list;
    }

    /// <summary>Every face, in id order, read in one snapshot.</summary>
    public IReadOnlyList<StoredFace> Faces()
    {
        lock (_gate) return ReadFaces(null, null);
    }

    public IReadOnlyList<FaceVector> FacesOf(IReadOnlyCollection<long> subjects)
    {
        if (subjects.Count == 0) return [];
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            // ids are numbers: inlined, as SQLite has no array parameter
            cmd.CommandText = "SELECT id, subject_id, embedding, " + (_poses ? "yaw" : "NULL") + " FROM faces WHERE subject_id IN ("
                + string.Join(',', subjects.Select(s => s.ToString(CultureInfo.InvariantCulture))) + ") ORDER BY id";
            using var r = cmd.ExecuteReader();
            var list = new List<FaceVector>();
            while (r.Read()) list.Add(new FaceVector(r.GetInt64(0), r.GetInt64(1), Vector(r.GetInt64(0), (byte[])r[2]), r.IsDBNull(3) ? float.NaN : r.GetFloat(3)));
            return list;
        }
    }

    // every face, or one enrolment's (a subject's faces in an id range)
    private List<StoredFace> ReadFaces(SqliteTransaction? tx, (long Subject, long First, long Last)? only)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT id, subject_id, embedding, source_file, source_sha256, box, detector, created, " + (_poses ? "yaw" : "NULL") + " FROM faces"
            + (only is null ? "" : " WHERE subject_id = $s AND id BETWEEN $a AND $b") + " ORDER BY id";
        if (only is { } o)
        {
            cmd.Parameters.AddWithValue("$s", o.Subject);
            cmd.Parameters.AddWithValue("$a", o.First);
            cmd.Parameters.AddWithValue("$b", o.Last);
        }
        using var r = cmd.ExecuteReader();
        var list = new List<StoredFace>();
        while (r.Read())
        {
            var blob = (byte[])r[2];
            list.Add(new StoredFace(r.GetInt64(0), r.GetInt64(1), Vector(r.GetInt64(0), blob),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5).Split(',').Select(int.Parse).ToArray(), r.IsDBNull(6) ? null : r.GetString(6),
                DateTime.Parse(r.GetString(7), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)) { Yaw = r.IsDBNull(8) ? null : r.GetDouble(8) });
        }
        return list;
    }

    // a stored vector as the index wants it: plain, or opened under the data key
    private float[] Vector(long faceId, byte[] stored) => FaceCipher.FromStored(_cipher, faceId, stored, Model.EmbeddingSize, Path);

    /// <summary>
    /// Erases a subject: its rows are deleted with <c>secure_delete</c> on, which overwrites the deleted
    /// records and freed pages with zeros, its name is blanked in the change feed, and the WAL (which may
    /// still hold them) is checkpointed and truncated, so neither embeddings nor name can be read back
    /// from the files. Costs what the subject's pages cost, not what the gallery does (no VACUUM).
    /// Returns the erased subject's id, or null when there is none of that name.
    /// </summary>
    public long? RemoveSubject(string name)
    {
        lock (_gate) try
        {
            long? id;
            using (var tx = _db.BeginTransaction())
            {
                using var find = _db.CreateCommand();
                find.Transaction = tx;
                find.CommandText = "SELECT id FROM subjects WHERE name = $n";
                find.Parameters.AddWithValue("$n", name);
                id = find.ExecuteScalar() as long?;
                if (id is null) return null;
                using var cmd = _db.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "DELETE FROM faces WHERE subject_id = $id; DELETE FROM subjects WHERE id = $id;"
                    + (_feed ? " UPDATE changes SET name = NULL WHERE subject_id = $id;" : "")
                    + (_audit ? " UPDATE audit SET subject = NULL WHERE subject_id = $id AND subject IS NOT NULL;" : "");
                cmd.Parameters.AddWithValue("$id", id);
                cmd.ExecuteNonQuery();
                Record(tx, ChangeKind.Removed, id.Value, null);
                tx.Commit();
            }
            Exec(_db, "PRAGMA wal_checkpoint(TRUNCATE);");
            DeleteGraphFiles(); // a saved search graph holds copies of the vectors: it goes too (rebuilt when next needed)
            return id;
        }
        catch (SqliteException e) when (e.SqliteErrorCode != 19) { throw Unwritable(e); } // 19: a constraint, answered where it can happen
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

    private void Touch(SqliteTransaction tx, long subject)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE subjects SET last_used = $t WHERE id = $id";
        cmd.Parameters.AddWithValue("$t", Now());
        cmd.Parameters.AddWithValue("$id", subject);
        cmd.ExecuteNonQuery();
    }

    public void Audit(IReadOnlyList<AuditEvent> events)
    {
        if (!_audit) throw new GalleryException(Path, "the gallery predates the audit trail and is open read-only", FaceNetErrorKind.Unavailable);
        Write(() =>
        {
            using var tx = _db.BeginTransaction();
            InsertAudit(tx, events);
            foreach (var e in events)
                if (e.Matched && e.SubjectId is { } id) Touch(tx, id);
            tx.Commit(); // one commit for a request's events (an identification writes one per face)
        });
    }

    private void InsertAudit(SqliteTransaction tx, IEnumerable<AuditEvent> events)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = _auditClients
            ? "INSERT INTO audit(at, actor, operation, subject_id, subject, outcome, client, count) VALUES ($t, $a, $o, $id, $s, $r, $c, $n)"
            : "INSERT INTO audit(at, actor, operation, subject_id, subject, outcome) VALUES ($t, $a, $o, $id, $s, $r)";
        var (pt, pa, po, pid, ps, pr) = (cmd.Parameters.Add("$t", SqliteType.Text), cmd.Parameters.Add("$a", SqliteType.Text), cmd.Parameters.Add("$o", SqliteType.Text),
            cmd.Parameters.Add("$id", SqliteType.Integer), cmd.Parameters.Add("$s", SqliteType.Text), cmd.Parameters.Add("$r", SqliteType.Text));
        var (pc, pn) = (cmd.Parameters.Add("$c", SqliteType.Text), cmd.Parameters.Add("$n", SqliteType.Integer));
        foreach (var e in events)
        {
            (pt.Value, pa.Value, po.Value, pr.Value) = (e.At == default ? Now() : Stamp(e.At), e.Actor, e.Operation, e.Outcome);
            pid.Value = (object?)e.SubjectId ?? DBNull.Value;
            ps.Value = (object?)e.Subject ?? DBNull.Value;
            pc.Value = (object?)e.Client ?? DBNull.Value;
            pn.Value = e.Count;
            cmd.ExecuteNonQuery();
        }
    }

    public int PruneAudit(DateTime cutoff, string actor)
    {
        if (!_auditClients) throw new GalleryException(Path, "the gallery's audit trail predates its retention and is open read-only", FaceNetErrorKind.Unavailable);
        return Write(() =>
        {
            using var tx = _db.BeginTransaction();
            var before = Stamp(cutoff);
            // the trigger lets a deletion through for entries older than this, and only while it is set (in this transaction)
            WriteMeta(_db, tx, [("audit_prune_before", before)]);
            using var del = _db.CreateCommand();
            del.Transaction = tx;
            del.CommandText = "DELETE FROM audit WHERE at < $b";
            del.Parameters.AddWithValue("$b", before);
            int n = del.ExecuteNonQuery();
            using var unset = _db.CreateCommand();
            unset.Transaction = tx;
            unset.CommandText = "DELETE FROM meta WHERE key = 'audit_prune_before'";
            unset.ExecuteNonQuery();
            InsertAudit(tx, [new AuditEvent(actor, AuditOperations.AuditPrune, $"deleted {n} entries older than {before}")]);
            tx.Commit();
            return n;
        });
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

    public IReadOnlyList<AuditEvent> AuditTrail(long after = 0, int max = 10_000)
    {
        if (!_audit) return [];
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT seq, at, actor, operation, subject_id, subject, outcome"
                + (_auditClients ? ", client, count" : ", NULL, 1") + " FROM audit WHERE seq > $after ORDER BY seq LIMIT $max";
            cmd.Parameters.AddWithValue("$after", after);
            cmd.Parameters.AddWithValue("$max", max);
            using var r = cmd.ExecuteReader();
            var list = new List<AuditEvent>();
            while (r.Read())
                list.Add(new AuditEvent(r.GetString(2), r.GetString(3), r.GetString(6), r.IsDBNull(5) ? null : r.GetString(5),
                    r.IsDBNull(4) ? null : r.GetInt64(4))
                {
                    Sequence = r.GetInt64(0), At = DateTime.Parse(r.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                    Client = r.IsDBNull(7) ? null : r.GetString(7), Count = r.GetInt32(8),
                });
            return list;
        }
    }

    public IReadOnlyList<string> UnusedSince(DateTime cutoff)
    {
        if (!_audit) return [];
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT name FROM subjects WHERE COALESCE(last_used, created) < $c ORDER BY name";
            cmd.Parameters.AddWithValue("$c", cutoff.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            using var r = cmd.ExecuteReader();
            var list = new List<string>();
            while (r.Read()) list.Add(r.GetString(0));
            return list;
        }
    }

    /// <summary>Renames a subject; returns its id, or null when there is none of that name.</summary>
    public long? RenameSubject(string oldName, string newName)
    {
        ValidateName(newName);
        lock (_gate) try
        {
            using var tx = _db.BeginTransaction();
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "UPDATE subjects SET name = $new WHERE name = $old RETURNING id";
            cmd.Parameters.AddWithValue("$old", oldName);
            cmd.Parameters.AddWithValue("$new", newName);
            long? id;
            try { id = cmd.ExecuteScalar() as long?; }
            catch (SqliteException e) when (e.SqliteErrorCode == 19) { throw new GalleryException(Path,
                $"a subject named '{newName}' already exists", FaceNetErrorKind.Conflict); }
            if (id is null) return null;
            Record(tx, ChangeKind.Renamed, id.Value, newName);
            tx.Commit();
            return id;
        }
        catch (SqliteException e) when (e.SqliteErrorCode != 19) { throw Unwritable(e); } // 19: a constraint, answered where it can happen
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
