using Npgsql;

namespace FaceNet.Gallery;

// The PostgreSQL store's schemas: the gallery's tables by version, and the tenants' schemas (facenet_T) found, named and dropped.
public sealed partial class PostgresGalleryStore
{
    private const int SchemaVersion = 4;

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

    private static void WriteMeta(NpgsqlConnection conn, NpgsqlTransaction tx, IEnumerable<(string Key, string Value)> entries)
    {
        foreach (var (k, v) in entries)
            Exec(conn, tx, "INSERT INTO meta(key, value) VALUES (@k, @v) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", ("k", k), ("v", v));
    }

    private static Dictionary<string, string> ReadMeta(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        var meta = new Dictionary<string, string>();
        using var cmd = new NpgsqlCommand("SELECT key, value FROM meta", conn, tx);
        using var r = cmd.ExecuteReader();
        while (r.Read()) meta[r.GetString(0)] = r.GetString(1);
        return meta;
    }
}
