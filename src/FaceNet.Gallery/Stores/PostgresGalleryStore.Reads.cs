using System.Globalization;
using FaceNet.Gallery.Protection;
using Npgsql;

namespace FaceNet.Gallery;

// The PostgreSQL store's reads: subjects, faces (decrypted), snapshots, and the change feed it follows (NOTIFY or polling).
public sealed partial class PostgresGalleryStore
{
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
}
