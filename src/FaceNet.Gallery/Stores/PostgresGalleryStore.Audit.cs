using System.Globalization;
using Npgsql;

namespace FaceNet.Gallery;

// The PostgreSQL store's audit trail (events written beside the writes they record, pruned by retention, read in order) and its subjects' last use, which retention erases by.
public sealed partial class PostgresGalleryStore
{
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
}
