using System.Globalization;
using Microsoft.Data.Sqlite;

namespace FaceNet.Gallery;

// The SQLite store's audit trail (events written with the change they record, pruned by retention, read in order) and its subjects' last use, which retention erases by.
public sealed partial class GalleryStore
{
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
}
