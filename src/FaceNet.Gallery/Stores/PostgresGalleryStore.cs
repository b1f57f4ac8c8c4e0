using System.Globalization;
using FaceNet.Gallery.Protection;
using Npgsql;

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
    /// <summary>The schema of the default gallery (tenant <c>default</c>); another tenant's is <c>facenet_NAME</c>.</summary>
    public const string DefaultSchema = "facenet";

    // followers wake on NOTIFY to this channel; writers take this advisory lock (the default schema's: "facenet" in ASCII)
    private string Channel => _schema + "_gallery";
    private long WriterLock => WriterLockOf(_schema);

    private static long WriterLockOf(string schema)
        => schema == DefaultSchema ? 0x66_61_63_65_6e_65_74 : BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schema)), 0);

    private readonly string _schema;


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

    /// <summary>The gallery's schema (<c>facenet</c>, or a tenant's <c>facenet_T</c>).</summary>
    public string GallerySchema => _schema;

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
