using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace FaceNet.Gallery;

// The SQLite store's writes: enrolments, erasures and renames, each one transaction that appends to the change feed.
public sealed partial class GalleryStore
{
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

    private void Record(SqliteTransaction tx, ChangeKind kind, long subject, string? name, long? firstFace = null, long? lastFace = null)
        => ChangeFeed.Record(_db, tx, "", kind, subject, name, firstFace, lastFace);

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
}
