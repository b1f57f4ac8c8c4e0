using Npgsql;

namespace FaceNet.Gallery;

// The PostgreSQL store as a cluster's shards see it: one shard's snapshot, names and feed, and the shards' saved graphs.
public sealed partial class PostgresGalleryStore
{
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
}
