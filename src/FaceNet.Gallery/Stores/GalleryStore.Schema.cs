using System.Globalization;
using Microsoft.Data.Sqlite;

namespace FaceNet.Gallery;

// The SQLite store's schema: its versions' migrations, run forward on open, and the meta table (model binding, keys).
public sealed partial class GalleryStore
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
}
