using System.Runtime.InteropServices;
using Npgsql;
using NpgsqlTypes;

namespace FaceNet.Gallery;

// The PostgreSQL store's writes: enrolments (set-based), erasures and renames, under the writers' advisory lock, each appending to the change feed.
public sealed partial class PostgresGalleryStore
{
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

    private static void Record(NpgsqlConnection conn, NpgsqlTransaction tx, ChangeKind kind, long subject, string? name,
        long? firstFace = null, long? lastFace = null)
        => ChangeFeed.Record(conn, tx, "", kind, subject, name, firstFace, lastFace);
}
