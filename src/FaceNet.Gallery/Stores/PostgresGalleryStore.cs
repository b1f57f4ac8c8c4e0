using System.Globalization;
using System.Runtime.InteropServices;
using FaceNet.Gallery.Protection;
using Npgsql;
using NpgsqlTypes;

namespace FaceNet.Gallery;

/// <summary>
/// A gallery in PostgreSQL (schema <c>facenet</c>), shared by service replicas. The same contract as the
/// SQLite store: bound to one model, one transaction per write, a change feed that every replica's
/// <see cref="FaceGallery"/> follows. Writers take one advisory lock for the length of their transaction,
/// so change numbers are committed in order and a follower that has read change N has seen every change
/// before it; each commit sends a NOTIFY, so followers wake at once instead of polling.
/// <para>
/// Removal deletes the subject's rows, blanks its name in the feed and then vacuums the tables so the
/// dead rows' pages are cleaned; PostgreSQL's write-ahead log and any backups keep copies until they are
/// recycled, as for all data in that database.
/// </para>
/// </summary>
public sealed partial class PostgresGalleryStore : IGalleryStore, IProtectedStore
{
    private const int SchemaVersion = 4;
    /// <summary>The schema of the default gallery (tenant <c>default</c>); another tenant's is <c>facenet_NAME</c>.</summary>
    public const string DefaultSchema = "facenet";

    // followers wake on NOTIFY to this channel; writers take this advisory lock (the default schema's: "facenet" in ASCII)
    private string Channel => _schema + "_gallery";
    private long WriterLock => WriterLockOf(_schema);

    private static long WriterLockOf(string schema)
        => schema == DefaultSchema ? 0x66_61_63_65_6e_65_74 : BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schema)), 0);

    private readonly string _schema;

    private const string Schema = """
        CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE subjects (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            created timestamptz NOT NULL,
            metadata text);
        CREATE TABLE faces (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subject_id bigint NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
            embedding bytea NOT NULL,
            source_file text,
            source_sha256 text,
            box text,
            detector text,
            model_id text NOT NULL,
            created timestamptz NOT NULL);
        CREATE INDEX faces_subject ON faces(subject_id);
        CREATE TABLE changes (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            subject_id bigint NOT NULL,
            name text,
            first_face bigint,
            last_face bigint);
        CREATE INDEX changes_subject ON changes(subject_id);
        """;

    // 1 → 2: when each subject was last enrolled or matched (retention), and the audit trail: append-only,
    // but for blanking an erased subject's name
    private const string SchemaV2 = """
        ALTER TABLE subjects ADD COLUMN IF NOT EXISTS last_used timestamptz;
        UPDATE subjects SET last_used = created WHERE last_used IS NULL;
        CREATE TABLE audit (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL,
            actor text NOT NULL,
            operation text NOT NULL,
            subject_id bigint,
            subject text,
            outcome text NOT NULL);
        CREATE INDEX audit_subject ON audit(subject_id);
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.subject IS NULL AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
                AND NEW.operation = OLD.operation AND NEW.subject_id IS NOT DISTINCT FROM OLD.subject_id AND NEW.outcome = OLD.outcome THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the audit trail is append-only';
        END $f$;
        CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        """;

    // 2 → 3: the client's address and a count (a minute's refused requests of one client in one row), and the trail's own
    // retention: a deletion gets through only for entries older than the cutoff the sweep sets for its transaction
    private const string SchemaV3 = """
        ALTER TABLE audit ADD COLUMN IF NOT EXISTS client text;
        ALTER TABLE audit ADD COLUMN IF NOT EXISTS count integer NOT NULL DEFAULT 1;
        CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
        CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.at < NULLIF(current_setting('facenet.audit_prune_before', true), '')::timestamptz THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'the audit trail is append-only (only its retention sweep deletes old entries)';
            END IF;
            IF NEW.subject IS NULL AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
                AND NEW.operation = OLD.operation AND NEW.subject_id IS NOT DISTINCT FROM OLD.subject_id AND NEW.outcome = OLD.outcome
                AND NEW.client IS NOT DISTINCT FROM OLD.client AND NEW.count = OLD.count THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the audit trail is append-only';
        END $f$;
        """;
    // 3 → 4: each face's yaw (degrees) at enrolment, for the pose-aware identification rule; NULL for the faces enrolled
    // before, which count as frontal (their landmarks were never stored)
    private const string SchemaV4 = """
        ALTER TABLE faces ADD COLUMN IF NOT EXISTS yaw real;
        """;
    // (5: the next step goes here)

    private readonly NpgsqlDataSource _db;
    private readonly SemaphoreSlim _listenGate = new(1, 1);
    private NpgsqlConnection? _listener;

    // false for a gallery of before the audit trail opened read-only
    private bool _audit;
    // the audit trail has the client and count columns (schema 3)
    private bool _auditClients;
    // false for a gallery of schema 3 or older opened read-only: its faces have no yaw column (they count as frontal)
    private bool _poses = true;

    // an encrypted gallery's data key, and its cipher (null for a plain gallery)
    private byte[]? _dataKey;
    private FaceCipher? _cipher;

    private PostgresGalleryStore(NpgsqlDataSource db, string schema, string location, GalleryModel model, byte[]? dataKey)
    {
        _db = db;
        _schema = schema;
        Location = location;
        Model = model;
        SetDataKey(dataKey);
    }

    public string Location { get; }
    public GalleryModel Model { get; }

    /// <summary>Whether the faces are stored encrypted (<see cref="GalleryProtection"/>).</summary>
    public bool Encrypted => _cipher is not null;

    private void SetDataKey(byte[]? dataKey)
    {
        _cipher?.Dispose();
        _dataKey = dataKey;
        _cipher = dataKey is null ? null : new FaceCipher(dataKey);
    }

    /// <summary>The connection string without its password: what errors and logs may show.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            if (b.Password is not null) b.Password = "***";
            return "postgres:" + b.ConnectionString;
        }
        catch (ArgumentException) { return "postgres:<connection string that cannot be read>"; }
    }

    /// <summary>The data source of a schema: every statement names its tables unqualified, found through the search path.</summary>
    private static NpgsqlDataSource Source(string connectionString, string schema)
    {
        if (!SchemaName().IsMatch(schema)) throw new ArgumentException($"'{schema}' is not a gallery schema (lower-case letters, digits and _)");
        return NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial System.Text.RegularExpressions.Regex SchemaName();

    /// <summary>The schema a connection string names (its <c>Search Path</c>), else the default one.</summary>
    public static string SchemaIn(string connectionString)
    {
        try { return new NpgsqlConnectionStringBuilder(connectionString).SearchPath is { Length: > 0 } path ? path.Split(',')[0].Trim() : DefaultSchema; }
        catch (ArgumentException) { return DefaultSchema; }
    }

    /// <summary>The connection string with <paramref name="schema"/> as its search path (a tenant's gallery).</summary>
    internal static string WithSchema(string connectionString, string schema)
    {
        try { return new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString; }
        catch (ArgumentException e) { throw new GalleryException(Redact(connectionString), "not a usable PostgreSQL connection string: " + e.Message, FaceNetErrorKind.Invalid, e); }
    }

    /// <summary>The tenants' schemas in the database (<c>facenet_…</c>), by name.</summary>
    internal static IReadOnlyList<string> TenantSchemas(string connectionString)
    {
        try
        {
            using var conn = new NpgsqlConnection(connectionString);
            conn.Open();
            using var cmd = new NpgsqlCommand("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'facenet\\_%' ORDER BY nspname", conn);
            using var r = cmd.ExecuteReader();
            var names = new List<string>();
            while (r.Read()) names.Add(r.GetString(0));
            return names;
        }
        catch (NpgsqlException e) { throw new GalleryException(Redact(connectionString), "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    /// <summary>Drops a tenant's schema with everything in it; false when there was none.</summary>
    internal static bool DropSchema(string connectionString, string schema)
    {
        if (!SchemaName().IsMatch(schema) || schema == DefaultSchema) throw new ArgumentException($"'{schema}' is not a tenant's gallery schema");
        try
        {
            using var conn = new NpgsqlConnection(connectionString);
            conn.Open();
            using var tx = conn.BeginTransaction();
            // the writers' lock of that schema: no writer is half-way through a transaction in it
            Exec(conn, tx, $"SELECT pg_advisory_xact_lock({WriterLockOf(schema)})");
            bool existed = Scalar<bool>(conn, tx, $"SELECT to_regnamespace('{schema}') IS NOT NULL");
            if (existed) Exec(conn, tx, $"DROP SCHEMA {schema} CASCADE"); // a checked name
            tx.Commit();
            return existed;
        }
        catch (NpgsqlException e) { throw new GalleryException(Redact(connectionString), "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    public static bool Exists(string connectionString, string? schema = null)
    {
        schema ??= SchemaIn(connectionString);
        try
        {
            using var db = Source(connectionString, schema);
            using var conn = db.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT to_regclass('meta') IS NOT NULL", conn);
            if (!(bool)cmd.ExecuteScalar()!) return false;
            using var bound = new NpgsqlCommand("SELECT count(*) FROM meta WHERE key = 'model_id'", conn);
            return (long)bound.ExecuteScalar()! > 0;
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException) { return false; }
    }

    /// <summary>
    /// Opens (or, unless <paramref name="readOnly"/>, creates) the gallery in the database the connection
    /// string names, bound to <paramref name="model"/>; an existing gallery of another model is refused.
    /// An encrypted gallery needs its <paramref name="key"/>; a new one created with a key is encrypted.
    /// </summary>
    /// <param name="create">false: an existing gallery only (a tenant's that may be removed meanwhile is never made again by opening it).</param>
    public static PostgresGalleryStore Open(string connectionString, GalleryModel? model, bool readOnly = false, MasterKey? key = null,
        string? schema = null, bool create = true)
        => Open(connectionString, model, readOnly, key, schema, create, plainWithKey: false);

    internal static PostgresGalleryStore Open(string connectionString, GalleryModel? model, bool readOnly, MasterKey? key,
        string? schema, bool create, bool plainWithKey)
    {
        schema ??= SchemaIn(connectionString); // a tenant's gallery: Search Path=facenet_TENANT
        var location = Redact(connectionString) + (schema == DefaultSchema ? "" : $" (schema {schema})");
        NpgsqlDataSource db;
        try { db = Source(connectionString, schema); }
        catch (ArgumentException e) { throw new GalleryException(location, "not a usable PostgreSQL connection string: " + e.Message,
            FaceNetErrorKind.Invalid, e); }
        try
        {
            using var conn = db.OpenConnection();
            using var tx = conn.BeginTransaction();
            // two replicas starting at once must not both create the schema
            Exec(conn, tx, $"SELECT pg_advisory_xact_lock({WriterLockOf(schema)})");
            bool exists = Scalar<bool>(conn, tx, "SELECT to_regclass('meta') IS NOT NULL");
            if (!exists)
            {
                if (readOnly || model is null || !create) throw new GalleryException(location,
                    "no such gallery in this database (enrol someone first)", FaceNetErrorKind.NotFound);
                // (the schema's name is checked: letters, digits and _ only)
                if (Scalar<bool>(conn, tx, $"SELECT to_regnamespace('{schema}') IS NOT NULL")
                    && Scalar<long>(conn, tx, $"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'") > 0)
                    throw new GalleryException(location, $"the schema '{schema}' holds other tables: not a FaceNet gallery; nothing was changed", FaceNetErrorKind.CorruptStore);
                Exec(conn, tx, $"CREATE SCHEMA IF NOT EXISTS {schema}");
                Exec(conn, tx, Schema);
                Exec(conn, tx, SchemaV2);
                Exec(conn, tx, SchemaV3);
                Exec(conn, tx, SchemaV4);
                Exec(conn, tx, "INSERT INTO meta(key, value) VALUES ('schema_version', @v), ('feed_pruned_through', '0')",
                    ("v", SchemaVersion.ToString(CultureInfo.InvariantCulture)));
            }
            var meta = ReadMeta(conn, tx);
            if (!meta.TryGetValue("schema_version", out var v) || !int.TryParse(v, CultureInfo.InvariantCulture, out var version))
                throw new GalleryException(location, $"the schema '{schema}' is not a FaceNet gallery; nothing was changed", FaceNetErrorKind.CorruptStore);
            if (version > SchemaVersion) throw new GalleryException(location,
                $"gallery schema version {version} is newer than this program's {SchemaVersion}", FaceNetErrorKind.CorruptStore);
            // refused without the right key before anything is written
            var dataKey = GalleryKeys.Unlock(meta, key, location);
            // a key given to a gallery that holds plain faces would protect nothing it holds: refused, not ignored
            if (key is not null && dataKey is null && !plainWithKey && meta.ContainsKey("model_id")
                && Scalar<bool>(conn, tx, "SELECT EXISTS (SELECT 1 FROM faces)"))
                throw GalleryKeys.PlainWithKey(location);
            if (version < 2 && !readOnly)
            {
                Exec(conn, tx, SchemaV2);
                Exec(conn, tx, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
                version = 2;
            }
            if (version < 3 && !readOnly)
            {
                Exec(conn, tx, SchemaV3);
                Exec(conn, tx, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
                version = 3;
            }
            if (version < 4 && !readOnly)
            {
                Exec(conn, tx, SchemaV4);
                Exec(conn, tx, "UPDATE meta SET value = '4' WHERE key = 'schema_version'");
                version = 4;
            }
            // erasing a subject finds its faces through this (and the cascade from subjects checks it): without it each erasure
            // read the whole faces table, seconds at a million faces; made here for galleries from before it
            if (!readOnly && !Scalar<bool>(conn, tx, "SELECT to_regclass('faces_subject') IS NOT NULL"))
                Exec(conn, tx, "CREATE INDEX IF NOT EXISTS faces_subject ON faces(subject_id)");
            GalleryModel bound;
            if (!meta.TryGetValue("model_id", out var id))
            {
                if (model is null || readOnly) throw new GalleryException(location, "gallery is not bound to a model", FaceNetErrorKind.CorruptStore);
                if (key is not null && dataKey is null && Scalar<long>(conn, tx, "SELECT count(*) FROM faces") == 0)
                {
                    dataKey = FaceCipher.NewDataKey();
                    foreach (var (k, val) in GalleryKeys.Entries(key, dataKey))
                        Exec(conn, tx, "INSERT INTO meta(key, value) VALUES (@k, @v)", ("k", k), ("v", val));
                }
                foreach (var (k, val) in new[] { ("model_id", model.Id),
                    ("embedding_size", model.EmbeddingSize.ToString(CultureInfo.InvariantCulture)), ("preprocess",
                    model.Preprocess), ("metric", Matching.Metrics.Name(model.Metric)), ("created", DateTime.UtcNow.ToString("O",
                    CultureInfo.InvariantCulture)) })
                    Exec(conn, tx, "INSERT INTO meta(key, value) VALUES (@k, @v)", ("k", k), ("v", val));
                bound = model;
            }
            else
            {
                bound = new GalleryModel(id, int.Parse(meta["embedding_size"], CultureInfo.InvariantCulture), meta["preprocess"],
                    Matching.Metrics.Parse(meta["metric"]));
                if (model is not null && !model.Matches(bound))
                    throw new GalleryException(location, $"gallery is bound to model {bound}; embeddings of model {model} are not comparable with it (use the model that enrolled it, or 'facenet migrate' to re-embed its faces)", FaceNetErrorKind.ModelMismatch);
                // a bound gallery without a face yet, given a key: encrypted before its first face, as a new one is
                if (key is not null && dataKey is null && !readOnly && !Scalar<bool>(conn, tx, "SELECT EXISTS (SELECT 1 FROM faces)"))
                {
                    dataKey = FaceCipher.NewDataKey();
                    foreach (var (k, val) in GalleryKeys.Entries(key, dataKey))
                        Exec(conn, tx, "INSERT INTO meta(key, value) VALUES (@k, @v) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", ("k", k), ("v", val));
                }
            }
            tx.Commit();
            return new PostgresGalleryStore(db, schema, location, bound, dataKey) { _audit = version >= 2, _auditClients = version >= 3, _poses = version >= 4 };
        }
        catch (Exception e)
        {
            db.Dispose();
            if (e is NpgsqlException or TimeoutException) throw new GalleryException(location, "cannot open the gallery database: "
                + e.Message, FaceNetErrorKind.Unavailable, e);
            throw;
        }
    }

    public IReadOnlyList<Enrollment> EnrollMany(IReadOnlyList<(string Name, IReadOnlyList<NewFace> Faces)> people, string? metadata = null)
    {
        var checkedPeople = GalleryStore.Checked(this, people);
        return Write((conn, tx) =>
        {
            // set-based, a few round trips for the whole batch (a migration or a bulk load is thousands of people):
            // the subjects that are new, every face with ids drawn in the people's order, one feed entry per person
            var names = checkedPeople.Select(p => p.Name).Distinct(StringComparer.Ordinal).ToArray();
            using (var add = new NpgsqlCommand("""
                INSERT INTO subjects(name, created, metadata) SELECT n, now(), @m FROM unnest(@names) AS n ON CONFLICT (name) DO NOTHING
                """, conn, tx))
            {
                add.Parameters.AddWithValue("names", names);
                add.Parameters.Add(new NpgsqlParameter("m", NpgsqlDbType.Text) { Value = (object?)metadata ?? DBNull.Value });
                add.ExecuteNonQuery();
            }
            var idOf = new Dictionary<string, long>(StringComparer.Ordinal);
            using (var find = new NpgsqlCommand("SELECT id, name FROM subjects WHERE name = ANY(@names)", conn, tx))
            {
                find.Parameters.AddWithValue("names", names);
                using var r = find.ExecuteReader();
                while (r.Read()) idOf[r.GetString(1)] = r.GetInt64(0);
            }
            int total = checkedPeople.Sum(p => p.Faces.Count);
            // a sealed vector carries its face's id: the ids are drawn before the rows are written
            var drawn = total == 0 ? [] : DrawFaceIds(conn, tx, total);
            var subjectOfFace = new long[total];
            var vectors = new byte[total][];
            var files = new string?[total];
            var hashes = new string?[total];
            var boxes = new string?[total];
            var detectors = new string?[total];
            var yaws = new float?[total];
            var result = new List<Enrollment>(checkedPeople.Count);
            int k = 0;
            foreach (var (name, faces) in checkedPeople)
            {
                var ids = new List<long>(faces.Count);
                foreach (var f in faces)
                {
                    subjectOfFace[k] = idOf[name];
                    vectors[k] = _cipher is null ? MemoryMarshal.AsBytes(f.Embedding.AsSpan()).ToArray() : _cipher.Seal(drawn[k], f.Embedding);
                    files[k] = f.SourceFile;
                    hashes[k] = f.SourceSha256;
                    boxes[k] = f.Box is null ? null : string.Join(",", f.Box);
                    detectors[k] = f.Detector;
                    yaws[k] = f.Yaw is { } yaw && double.IsFinite(yaw) ? (float)yaw : null;
                    ids.Add(drawn[k++]);
                }
                result.Add(new Enrollment(idOf[name], ids));
            }
            if (total > 0)
            {
                using var insert = new NpgsqlCommand("""
                    INSERT INTO faces(id, subject_id, embedding, source_file, source_sha256, box, detector, model_id, created, yaw) OVERRIDING SYSTEM VALUE
                    SELECT i, s, e, f, h, b, d, @model, now(), y FROM unnest(@ids, @subjects, @vectors, @files, @hashes, @boxes, @detectors, @yaws) AS x(i, s, e, f, h, b, d, y)
                    ORDER BY i
                    """, conn, tx);
                insert.Parameters.AddWithValue("ids", drawn);
                insert.Parameters.AddWithValue("subjects", subjectOfFace);
                insert.Parameters.AddWithValue("vectors", vectors);
                foreach (var (n, v) in new[] { ("files", files), ("hashes", hashes), ("boxes", boxes), ("detectors", detectors) })
                    insert.Parameters.Add(new NpgsqlParameter(n, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = v });
                insert.Parameters.Add(new NpgsqlParameter("yaws", NpgsqlDbType.Array | NpgsqlDbType.Real) { Value = yaws });
                insert.Parameters.AddWithValue("model", Model.Id);
                insert.ExecuteNonQuery();
            }
            var enrolled = result.Where(e => e.FaceIds.Count > 0).ToList();
            if (enrolled.Count > 0)
            {
                using var feed = new NpgsqlCommand("""
                    WITH added AS (
                        INSERT INTO changes(kind, subject_id, first_face, last_face) SELECT @kind, s, a, b FROM unnest(@subjects, @firsts, @lasts) WITH ORDINALITY AS x(s, a, b, o)
                        ORDER BY o RETURNING seq)
                    SELECT min(seq), max(seq) FROM added
                    """, conn, tx);
                feed.Parameters.AddWithValue("kind", ChangeKind.Enrolled.ToString());
                feed.Parameters.AddWithValue("subjects", enrolled.Select(e => e.SubjectId).ToArray());
                feed.Parameters.AddWithValue("firsts", enrolled.Select(e => e.FaceIds.Min()).ToArray());
                feed.Parameters.AddWithValue("lasts", enrolled.Select(e => e.FaceIds.Max()).ToArray());
                using var r = feed.ExecuteReader();
                r.Read();
                var (first, last) = (r.GetInt64(0), r.GetInt64(1));
                r.Close();
                ChangeFeed.Recorded(conn, tx, "", first, last);
            }
            if (_audit && enrolled.Count > 0)
                using (var used = new NpgsqlCommand("UPDATE subjects SET last_used = now() WHERE id = ANY(@ids)", conn, tx))
                {
                    used.Parameters.AddWithValue("ids", enrolled.Select(e => e.SubjectId).Distinct().ToArray());
                    used.ExecuteNonQuery();
                }
            return (IReadOnlyList<Enrollment>)result;
        });
    }

    private static long[] DrawFaceIds(NpgsqlConnection conn, NpgsqlTransaction tx, int count)
    {
        using var cmd = new NpgsqlCommand("SELECT nextval(pg_get_serial_sequence('faces', 'id')) FROM generate_series(1, @n)", conn, tx);
        cmd.Parameters.AddWithValue("n", count);
        using var r = cmd.ExecuteReader();
        var ids = new List<long>(count);
        while (r.Read()) ids.Add(r.GetInt64(0));
        return [.. ids];
    }

    bool IProtectedStore.Encrypt(MasterKey key)
    {
        if (_cipher is not null)
        {
            VacuumFaces();
            return false;
        }
        Reseal(key, FaceCipher.NewDataKey());
        return true;
    }

    void IProtectedStore.Rekey(MasterKey next, bool rotateDataKey)
    {
        if (_dataKey is null) throw new GalleryException(Location, "the gallery is not encrypted ('encrypt' encrypts it)", FaceNetErrorKind.Conflict);
        if (rotateDataKey)
        {
            Reseal(next, FaceCipher.NewDataKey());
            return;
        }
        var dataKey = _dataKey;
        Write<bool>((conn, tx) =>
        {
            WriteMeta(conn, tx, GalleryKeys.Entries(next, dataKey));
            return true;
        });
    }

    /// <summary>
    /// Every face sealed again under <paramref name="dataKey"/> in one transaction (a crash leaves the gallery
    /// as it was, or wholly re-sealed); then VACUUM FULL rewrites the faces table into new files, so the
    /// old bytes are not left in dead rows.
    /// </summary>
    private void Reseal(MasterKey key, byte[] dataKey)
    {
        using (var cipher = new FaceCipher(dataKey))
            Write<bool>((conn, tx) =>
            {
                long after = 0;
                while (true)
                {
                    var page = new List<(long Id, float[] Vector)>();
                    using (var read = new NpgsqlCommand("SELECT id, embedding FROM faces WHERE id > @a ORDER BY id LIMIT 2000", conn, tx))
                    {
                        read.Parameters.AddWithValue("a", after);
                        using var r = read.ExecuteReader();
                        while (r.Read()) page.Add((r.GetInt64(0), Vector(r.GetInt64(0), r.GetFieldValue<byte[]>(1))));
                    }
                    if (page.Count == 0) break;
                    using (var batch = new NpgsqlBatch(conn, tx))
                    {
                        foreach (var (id, vector) in page)
                        {
                            var cmd = new NpgsqlBatchCommand("UPDATE faces SET embedding = $1 WHERE id = $2");
                            cmd.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = cipher.Seal(id, vector) });
                            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
                            batch.BatchCommands.Add(cmd);
                        }
                        batch.ExecuteNonQuery();
                    }
                    after = page[^1].Id;
                }
                WriteMeta(conn, tx, GalleryKeys.Entries(key, dataKey));
                return true;
            });
        SetDataKey(dataKey);
        VacuumFaces();
    }

    private void VacuumFaces()
    {
        try
        {
            using var conn = _db.OpenConnection();
            Exec(conn, null, "VACUUM FULL faces");
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "encrypted, but the old rows could not be vacuumed away: "
            + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    private static void WriteMeta(NpgsqlConnection conn, NpgsqlTransaction tx, IEnumerable<(string Key, string Value)> entries)
    {
        foreach (var (k, v) in entries)
            Exec(conn, tx, "INSERT INTO meta(key, value) VALUES (@k, @v) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", ("k", k), ("v", v));
    }

    public long? RemoveSubject(string name)
    {
        var id = Write<long?>((conn, tx) =>
        {
            using var find = new NpgsqlCommand("SELECT id FROM subjects WHERE name = @n", conn, tx);
            find.Parameters.AddWithValue("n", name);
            if (find.ExecuteScalar() is not long id) return null;
            Exec(conn, tx, "DELETE FROM faces WHERE subject_id = @id; DELETE FROM subjects WHERE id = @id; UPDATE changes SET name = NULL WHERE subject_id = @id;"
                + (_audit ? " UPDATE audit SET subject = NULL WHERE subject_id = @id AND subject IS NOT NULL;" : ""), ("id", id));
            Record(conn, tx, ChangeKind.Removed, id, null);
            return id;
        });
        if (id is not null)
        {
            // clean the dead rows' pages now rather than whenever autovacuum comes by (VACUUM cannot run in a transaction)
            try
            {
                using var conn = _db.OpenConnection();
                Exec(conn, null, "VACUUM faces, subjects, changes" + (_audit ? ", audit" : ""));
            }
            catch (NpgsqlException) { } // erased rows are invisible already; autovacuum will clean them
        }
        return id;
    }

    public long? RenameSubject(string oldName, string newName)
    {
        GalleryStore.ValidateName(newName);
        try
        {
            return Write<long?>((conn, tx) =>
            {
                using var cmd = new NpgsqlCommand("UPDATE subjects SET name = @new WHERE name = @old RETURNING id", conn, tx);
                cmd.Parameters.AddWithValue("old", oldName);
                cmd.Parameters.AddWithValue("new", newName);
                if (cmd.ExecuteScalar() is not long id) return null;
                Record(conn, tx, ChangeKind.Renamed, id, newName);
                return id;
            });
        }
        catch (GalleryException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new GalleryException(Location, $"a subject named '{newName}' already exists", FaceNetErrorKind.Conflict);
        }
    }

    public void Audit(IReadOnlyList<AuditEvent> events)
    {
        if (!_audit) throw new GalleryException(Location, "the gallery predates the audit trail and is open read-only", FaceNetErrorKind.Unavailable);
        // not under the writers' lock: an audit row is no change the followers need; one commit for a request's events
        try
        {
            using var conn = _db.OpenConnection();
            using var tx = conn.BeginTransaction();
            InsertAudit(conn, tx, events);
            foreach (var e in events)
                if (e.Matched && e.SubjectId is { } id) Exec(conn, tx, "UPDATE subjects SET last_used = now() WHERE id = @id", ("id", id));
            tx.Commit();
        }
        catch (NpgsqlException ex) { throw new GalleryException(Location, "database error: " + ex.Message, FaceNetErrorKind.Unavailable, ex); }
    }

    private void InsertAudit(NpgsqlConnection conn, NpgsqlTransaction tx, IEnumerable<AuditEvent> events)
    {
        foreach (var e in events)
        {
            (string, object)[] values = [("t", e.At == default ? DateTime.UtcNow : e.At.ToUniversalTime()), ("a", e.Actor), ("o", e.Operation),
                ("id", (object?)e.SubjectId ?? DBNull.Value), ("s", (object?)e.Subject ?? DBNull.Value), ("r", e.Outcome)];
            if (_auditClients)
                Exec(conn, tx, "INSERT INTO audit(at, actor, operation, subject_id, subject, outcome, client, count) VALUES (@t, @a, @o, @id, @s, @r, @c, @n)",
                    [.. values, ("c", (object?)e.Client ?? DBNull.Value), ("n", e.Count)]);
            else
                Exec(conn, tx, "INSERT INTO audit(at, actor, operation, subject_id, subject, outcome) VALUES (@t, @a, @o, @id, @s, @r)", values);
        }
    }

    public int PruneAudit(DateTime cutoff, string actor)
    {
        if (!_auditClients) throw new GalleryException(Location, "the gallery's audit trail predates its retention and is open read-only", FaceNetErrorKind.Unavailable);
        try
        {
            using var conn = _db.OpenConnection();
            using var tx = conn.BeginTransaction();
            var before = cutoff.ToUniversalTime();
            // the trigger lets a deletion through for entries older than this, for this transaction only
            Exec(conn, tx, "SELECT set_config('facenet.audit_prune_before', @b, true)", ("b", before.ToString("O", CultureInfo.InvariantCulture)));
            using var del = new NpgsqlCommand("DELETE FROM audit WHERE at < @b", conn, tx);
            del.Parameters.AddWithValue("b", before);
            int n = del.ExecuteNonQuery();
            Exec(conn, tx, "SELECT set_config('facenet.audit_prune_before', '', true)");
            InsertAudit(conn, tx, [new AuditEvent(actor, AuditOperations.AuditPrune,
                $"deleted {n} entries older than {before.ToString("O", CultureInfo.InvariantCulture)}")]);
            tx.Commit();
            return n;
        }
        catch (NpgsqlException ex) { throw new GalleryException(Location, "database error: " + ex.Message, FaceNetErrorKind.Unavailable, ex); }
    }

    public string? WriteProblem()
    {
        try
        {
            using var conn = _db.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT current_setting('transaction_read_only') = 'on', has_table_privilege('faces', 'INSERT, DELETE'), "
                + "has_table_privilege('audit', 'INSERT')", conn);
            using var r = cmd.ExecuteReader();
            r.Read();
            if (r.GetBoolean(0)) return $"{Location}: the database takes no writes (read-only transactions: a standby, or default_transaction_read_only)";
            if (!r.GetBoolean(1) || !r.GetBoolean(2)) return $"{Location}: the database role may not write the gallery's tables";
            return null;
        }
        catch (NpgsqlException e) { return $"{Location}: database error: {e.Message}"; }
    }

    public IReadOnlyList<AuditEvent> AuditTrail(long after = 0, int max = 10_000) => !_audit ? [] : Read((conn, tx) =>
    {
        using var cmd = new NpgsqlCommand("SELECT seq, at, actor, operation, subject_id, subject, outcome" + (_auditClients ? ", client, count" : ", NULL, 1")
            + " FROM audit WHERE seq > @a ORDER BY seq LIMIT @m", conn, tx);
        cmd.Parameters.AddWithValue("a", after);
        cmd.Parameters.AddWithValue("m", max);
        using var r = cmd.ExecuteReader();
        var list = new List<AuditEvent>();
        while (r.Read())
            list.Add(new AuditEvent(r.GetString(2), r.GetString(3), r.GetString(6), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(4) ? null : r.GetInt64(4))
            {
                Sequence = r.GetInt64(0), At = r.GetDateTime(1).ToUniversalTime(), Client = r.IsDBNull(7) ? null : r.GetString(7), Count = r.GetInt32(8),
            });
        return list;
    });

    public IReadOnlyList<string> UnusedSince(DateTime cutoff) => !_audit ? [] : Read((conn, tx) =>
    {
        using var cmd = new NpgsqlCommand("SELECT name FROM subjects WHERE COALESCE(last_used, created) < @c ORDER BY name", conn, tx);
        cmd.Parameters.AddWithValue("c", cutoff.ToUniversalTime());
        using var r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read()) list.Add(r.GetString(0));
        return list;
    });

    /// <summary>
    /// One shard's part of the gallery, read in one snapshot: the subjects whose id is <paramref name="shard"/>
    /// modulo <paramref name="shards"/>, with all their faces (a subject's faces are never split).
    /// </summary>
    public GallerySnapshot ShardSnapshot(int shard, int shards)
    {
        if (shards < 1 || shard < 0 || shard >= shards) throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {shards}");
        ShardIndexes(shards);
        return Read((conn, tx) =>
        {
            // only the shard's rows leave the database (found through the indexes above), and only they are opened
            var faces = ReadFaces(conn, tx, null, (shard, shards));
            var counts = faces.CountBy(f => f.SubjectId).ToDictionary();
            var subjects = new List<Subject>();
            using (var cmd = new NpgsqlCommand($"SELECT id, name, created, metadata FROM subjects WHERE id % {shards} = {shard} ORDER BY name", conn, tx))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                    subjects.Add(new Subject(r.GetInt64(0), r.GetString(1), r.GetDateTime(2).ToUniversalTime(), r.IsDBNull(3) ? null : r.GetString(3),
                        counts.GetValueOrDefault(r.GetInt64(0))));
            return new GallerySnapshot(subjects, faces, Scalar<long>(conn, tx, "SELECT COALESCE(max(seq), 0) FROM changes"));
        });
    }

    // Indexes on id modulo the shard count (a literal in the index and in the queries, which is what lets PostgreSQL use them):
    // without them each shard of a million-face gallery reads the whole table. Made once, by whichever shard comes first.
    private readonly HashSet<int> _shardIndexes = [];

    private void ShardIndexes(int shards)
    {
        lock (_shardIndexes)
        {
            if (_shardIndexes.Contains(shards)) return;
            try
            {
                using var conn = _db.OpenConnection();
                using var tx = conn.BeginTransaction();
                if (!Scalar<bool>(conn, tx, $"SELECT to_regclass('faces_shard_{shards}') IS NOT NULL AND to_regclass('subjects_shard_{shards}') IS NOT NULL"))
                {
                    // the tables in the order writers take them (subjects, then faces): an enrolment waits, it cannot deadlock with this
                    Exec(conn, tx, $"SELECT pg_advisory_xact_lock({WriterLock} + 1)");
                    Exec(conn, tx, "LOCK TABLE subjects IN SHARE MODE; LOCK TABLE faces IN SHARE MODE");
                    Exec(conn, tx, $"CREATE INDEX IF NOT EXISTS faces_shard_{shards} ON faces ((subject_id % {shards}), id)");
                    Exec(conn, tx, $"CREATE INDEX IF NOT EXISTS subjects_shard_{shards} ON subjects ((id % {shards}))");
                }
                tx.Commit();
            }
            catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
            _shardIndexes.Add(shards);
        }
    }

    public IReadOnlyList<Subject> Subjects() => Read((conn, tx) => ReadSubjects(conn, tx));

    public IReadOnlyList<StoredFace> Faces() => Read((conn, tx) => ReadFaces(conn, tx, null));

    public IReadOnlyList<FaceVector> FacesOf(IReadOnlyCollection<long> subjects)
    {
        if (subjects.Count == 0) return [];
        try
        {
            // one statement, no transaction of its own: a re-rank is on every search's path
            using var conn = _db.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT id, subject_id, embedding, " + (_poses ? "yaw" : "NULL::real") + " FROM faces WHERE subject_id = ANY(@s) ORDER BY id", conn);
            cmd.Parameters.AddWithValue("s", subjects as long[] ?? [.. subjects]);
            using var r = cmd.ExecuteReader();
            var list = new List<FaceVector>();
            while (r.Read()) list.Add(new FaceVector(r.GetInt64(0), r.GetInt64(1), Vector(r.GetInt64(0), r.GetFieldValue<byte[]>(2)), r.IsDBNull(3) ? float.NaN : r.GetFloat(3)));
            return list;
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    public GallerySnapshot Snapshot() => Read((conn, tx) => new GallerySnapshot(ReadSubjects(conn, tx), ReadFaces(conn, tx, null),
        Scalar<long>(conn, tx, "SELECT COALESCE(max(seq), 0) FROM changes")));

    public IReadOnlyList<GalleryChange>? ChangesSince(long sequence, int max = 10_000)
        => Read((conn, tx) => ChangeFeed.Read(conn, tx, "", sequence, max, (subject, first, last) => ReadFaces(conn, tx, (subject, first, last))));

    /// <summary>The changes after <paramref name="sequence"/> to the subjects of one shard (id modulo <paramref name="shards"/>); null when the feed was trimmed past it.</summary>
    public IReadOnlyList<GalleryChange>? ChangesSince(long sequence, int shard, int shards, int max = 10_000)
    {
        if (shards < 1 || shard < 0 || shard >= shards) throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {shards}");
        return Read((conn, tx) => ChangeFeed.Read(conn, tx, "", sequence, max, (subject, first, last) => ReadFaces(conn, tx, (subject, first, last)), (shard, shards)));
    }

    /// <summary>The gallery's schema (<c>facenet</c>, or a tenant's <c>facenet_T</c>).</summary>
    public string GallerySchema => _schema;

    /// <summary>
    /// The key that seals this gallery's saved graphs: derived from its data key (HKDF-SHA256, its own purpose), so a graph
    /// file opens only for whoever can open the faces; null for a plain gallery.
    /// </summary>
    internal byte[]? GraphKey() => _dataKey is null ? null
        : System.Security.Cryptography.HKDF.DeriveKey(System.Security.Cryptography.HashAlgorithmName.SHA256, _dataKey, 32, info: "facenet shard graph v1"u8.ToArray());

    /// <summary>The ids and names of one shard's subjects now (what a shard loading a saved graph reads instead of every vector).</summary>
    public IReadOnlyList<(long Id, string Name)> ShardNames(int shard, int shards)
    {
        ShardIndexes(shards);
        return Read((conn, tx) =>
        {
            var list = new List<(long, string)>();
            using var cmd = new NpgsqlCommand($"SELECT id, name FROM subjects WHERE id % {shards} = {shard}", conn, tx);
            using var r = cmd.ExecuteReader();
            while (r.Read()) list.Add((r.GetInt64(0), r.GetString(1)));
            return (IReadOnlyList<(long, string)>)list;
        });
    }

    /// <summary>How many faces one shard's subjects have now (a loaded graph's count is checked against it).</summary>
    public long ShardFaceCount(int shard, int shards)
    {
        ShardIndexes(shards);
        return Read((conn, tx) => Scalar<long>(conn, tx, $"SELECT count(*) FROM faces WHERE subject_id % {shards} = {shard}"));
    }

    /// <summary>
    /// The graph of a shard last saved in the database (table <c>shard_graphs</c> of the gallery's schema: a place every silo
    /// reaches, so the silo that takes a dead silo's shard over loads it instead of building it), with the feed position it covers; null when none.
    /// </summary>
    public (long Position, byte[] Bytes)? ReadShardGraph(int shard, int shards)
        => Read<(long, byte[])?>((conn, tx) =>
        {
            if (!Scalar<bool>(conn, tx, "SELECT to_regclass('shard_graphs') IS NOT NULL")) return null;
            using var cmd = new NpgsqlCommand("SELECT position, bytes FROM shard_graphs WHERE shard = @k AND shards = @n", conn, tx);
            cmd.Parameters.AddWithValue("k", shard);
            cmd.Parameters.AddWithValue("n", shards);
            using var r = cmd.ExecuteReader();
            return r.Read() ? (r.GetInt64(0), r.GetFieldValue<byte[]>(1)) : null;
        });

    /// <summary>
    /// Saves a shard's graph (replacing the last one) with the feed position it covers. <paramref name="erasure"/>: the
    /// replaced graph held an erased face, so the table is vacuumed as the faces are after an erasure.
    /// </summary>
    public void WriteShardGraph(int shard, int shards, long position, byte[] bytes, bool erasure = false)
    {
        try
        {
            using var conn = _db.OpenConnection();
            try
            {
                // on its own (shards save at once and may both make it): a failed CREATE would abort the save's transaction
                Exec(conn, null, "CREATE TABLE IF NOT EXISTS shard_graphs (shard int NOT NULL, shards int NOT NULL, position bigint NOT NULL, "
                    + "saved timestamptz NOT NULL DEFAULT now(), bytes bytea NOT NULL, PRIMARY KEY (shard, shards)); "
                    // stored as they come (compressing codes gains little and costs every load)
                    + "ALTER TABLE shard_graphs ALTER COLUMN bytes SET STORAGE EXTERNAL");
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateObject
                or PostgresErrorCodes.DuplicateTable) { }
            using (var tx = conn.BeginTransaction())
            {
                using var cmd = new NpgsqlCommand("INSERT INTO shard_graphs (shard, shards, position, bytes) VALUES (@k, @n, @p, @b) "
                    + "ON CONFLICT (shard, shards) DO UPDATE SET position = excluded.position, bytes = excluded.bytes, saved = now()", conn, tx);
                cmd.Parameters.AddWithValue("k", shard);
                cmd.Parameters.AddWithValue("n", shards);
                cmd.Parameters.AddWithValue("p", position);
                cmd.Parameters.AddWithValue("b", bytes);
                cmd.CommandTimeout = 600;
                cmd.ExecuteNonQuery();
                tx.Commit();
            }
            if (erasure) Exec(conn, null, "VACUUM shard_graphs");
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    /// <summary>The positions of the shards' graphs saved in the database: (shard, shard count) → position.</summary>
    public IReadOnlyDictionary<(int Shard, int Shards), long> ShardGraphPositions() => Read((conn, tx) =>
    {
        var map = new Dictionary<(int, int), long>();
        if (!Scalar<bool>(conn, tx, "SELECT to_regclass('shard_graphs') IS NOT NULL")) return (IReadOnlyDictionary<(int, int), long>)map;
        using var cmd = new NpgsqlCommand("SELECT shard, shards, position FROM shard_graphs", conn, tx);
        using var r = cmd.ExecuteReader();
        while (r.Read()) map[(r.GetInt32(0), r.GetInt32(1))] = r.GetInt64(2);
        return map;
    });

    /// <summary>Deletes a shard's graph saved in the database (then vacuums, as after an erasure).</summary>
    public void DeleteShardGraph(int shard, int shards)
    {
        try
        {
            using var conn = _db.OpenConnection();
            using (var tx = conn.BeginTransaction())
            {
                if (!Scalar<bool>(conn, tx, "SELECT to_regclass('shard_graphs') IS NOT NULL")) return;
                Exec(conn, tx, $"DELETE FROM shard_graphs WHERE shard = {shard} AND shards = {shards}");
                tx.Commit();
            }
            Exec(conn, null, "VACUUM shard_graphs");
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    /// <summary>Whether the feed still holds every change after <paramref name="sequence"/> (a saved graph older than that cannot be caught up).</summary>
    public bool FeedReaches(long sequence) => Read((conn, tx) =>
        long.Parse(Scalar<string>(conn, tx, "SELECT value FROM meta WHERE key = 'feed_pruned_through'")!, System.Globalization.CultureInfo.InvariantCulture) <= sequence
        && Scalar<long>(conn, tx, "SELECT COALESCE(max(seq), 0) FROM changes") >= sequence);

    /// <summary>The feed's last entry now (0 when it has none).</summary>
    public long LastSequence() => Read((conn, tx) => Scalar<long>(conn, tx, "SELECT COALESCE(max(seq), 0) FROM changes"));

    /// <summary>The subjects changed after <paramref name="sequence"/> and the feed's last entry (only ids: what a follower needs to know whom to wake).</summary>
    public (long Last, IReadOnlyList<long> Subjects) ChangedSince(long sequence)
        => Read((conn, tx) =>
        {
            var ids = new List<long>();
            long last = sequence;
            using var cmd = new NpgsqlCommand("SELECT seq, subject_id FROM changes WHERE seq > @s ORDER BY seq", conn, tx);
            cmd.Parameters.AddWithValue("s", sequence);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                last = r.GetInt64(0);
                ids.Add(r.GetInt64(1));
            }
            return (last, (IReadOnlyList<long>)ids);
        });

    /// <summary>Waits on a listening connection for a writer's NOTIFY (any replica's commit), at most <paramref name="timeout"/>.</summary>
    public async Task WaitForChangesAsync(TimeSpan timeout, CancellationToken ct)
    {
        await _listenGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_listener is null || _listener.FullState.HasFlag(System.Data.ConnectionState.Broken) || _listener.State != System.Data.ConnectionState.Open)
            {
                _listener?.Dispose();
                _listener = null;
                var conn = await _db.OpenConnectionAsync(ct).ConfigureAwait(false);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", conn)) await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                _listener = conn;
            }
            await _listener.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        finally { _listenGate.Release(); }
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _db.Dispose();
        _listenGate.Dispose();
        _cipher?.Dispose();
    }

    // ----- plumbing -----

    // A write: one transaction under the writers' lock, announced to the followers at commit.
    private T Write<T>(Func<NpgsqlConnection, NpgsqlTransaction, T> work)
    {
        try
        {
            using var conn = _db.OpenConnection();
            using var tx = conn.BeginTransaction();
            Exec(conn, tx, $"SELECT pg_advisory_xact_lock({WriterLock})");
            var result = work(conn, tx);
            Exec(conn, tx, $"NOTIFY {Channel}");
            tx.Commit();
            return result;
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    // A read in one snapshot (REPEATABLE READ: every statement sees the same committed state).
    private T Read<T>(Func<NpgsqlConnection, NpgsqlTransaction, T> work)
    {
        try
        {
            using var conn = _db.OpenConnection();
            using var tx = conn.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
            var result = work(conn, tx);
            tx.Commit();
            return result;
        }
        catch (NpgsqlException e) { throw new GalleryException(Location, "database error: " + e.Message, FaceNetErrorKind.Unavailable, e); }
    }

    private static void Record(NpgsqlConnection conn, NpgsqlTransaction tx, ChangeKind kind, long subject, string? name,
        long? firstFace = null, long? lastFace = null)
        => ChangeFeed.Record(conn, tx, "", kind, subject, name, firstFace, lastFace);

    private static List<Subject> ReadSubjects(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        using var cmd = new NpgsqlCommand("SELECT s.id, s.name, s.created, s.metadata, COUNT(f.id) FROM subjects s LEFT JOIN faces f ON f.subject_id = s.id GROUP BY s.id ORDER BY s.name", conn, tx);
        using var r = cmd.ExecuteReader();
        var list = new List<Subject>();
        while (r.Read()) list.Add(new Subject(r.GetInt64(0), r.GetString(1), r.GetDateTime(2).ToUniversalTime(),
            r.IsDBNull(3) ? null : r.GetString(3), (int)r.GetInt64(4)));
        return list;
    }

    // every face, one enrolment's (a subject's faces in an id range), or one shard's (subject id modulo the shard count)
    private List<StoredFace> ReadFaces(NpgsqlConnection conn, NpgsqlTransaction tx, (long Subject, long First, long Last)? only,
        (int Shard, int Shards)? ofShard = null)
    {
        using var cmd = new NpgsqlCommand("SELECT id, subject_id, embedding, source_file, source_sha256, box, detector, created, " + (_poses ? "yaw" : "NULL::real") + " FROM faces"
            + (only is not null ? " WHERE subject_id = @s AND id BETWEEN @a AND @b"
                : ofShard is { } of ? $" WHERE subject_id % {of.Shards} = {of.Shard}" : "") // literals: they match the shard index
            + " ORDER BY id", conn, tx);
        if (only is null) cmd.CommandTimeout = 600; // a whole gallery, or a shard of millions of faces, is more than the default 30 s away
        if (only is { } o)
        {
            cmd.Parameters.AddWithValue("s", o.Subject);
            cmd.Parameters.AddWithValue("a", o.First);
            cmd.Parameters.AddWithValue("b", o.Last);
        }
        using var r = cmd.ExecuteReader();
        var list = new List<StoredFace>();
        while (r.Read())
        {
            var blob = r.GetFieldValue<byte[]>(2);
            list.Add(new StoredFace(r.GetInt64(0), r.GetInt64(1), Vector(r.GetInt64(0), blob),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5).Split(',').Select(int.Parse).ToArray(), r.IsDBNull(6) ? null : r.GetString(6),
                r.GetDateTime(7).ToUniversalTime()) { Yaw = r.IsDBNull(8) ? null : r.GetFloat(8) });
        }
        return list;
    }

    // a stored vector as the index wants it: plain, or opened under the data key
    private float[] Vector(long faceId, byte[] stored) => FaceCipher.FromStored(_cipher, faceId, stored, Model.EmbeddingSize, Location);

    private static Dictionary<string, string> ReadMeta(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        var meta = new Dictionary<string, string>();
        using var cmd = new NpgsqlCommand("SELECT key, value FROM meta", conn, tx);
        using var r = cmd.ExecuteReader();
        while (r.Read()) meta[r.GetString(0)] = r.GetString(1);
        return meta;
    }

    private static void Exec(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }

    private static T? Scalar<T>(NpgsqlConnection conn, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        var v = cmd.ExecuteScalar();
        return v is null or DBNull ? default : (T)v;
    }
}
