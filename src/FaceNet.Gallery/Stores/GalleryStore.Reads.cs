using System.Globalization;
using FaceNet.Gallery.Protection;
using Microsoft.Data.Sqlite;

namespace FaceNet.Gallery;

// The SQLite store's reads: subjects, faces (decrypted), snapshots and the change feed.
public sealed partial class GalleryStore
{
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
}
