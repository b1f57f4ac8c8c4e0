using System.Data;
using System.Data.Common;
using System.Globalization;

namespace FaceNet.Gallery;

/// <summary>
/// The change feed as both stores keep it (tables <c>changes</c>, <c>meta</c>, <c>subjects</c> under a
/// schema prefix): entries written in the writer's transaction, read back with each enrolment's faces
/// as they are now. Plain ADO.NET with <c>@</c> parameters, which SQLite and Npgsql both take.
/// </summary>
internal static class ChangeFeed
{
    /// <summary>The feed keeps this many changes; a follower further behind reads a snapshot instead.</summary>
    public const int Length = 100_000;

    /// <summary>Appends one entry; every thousandth also trims the feed to its length.</summary>
    public static void Record(DbConnection db, DbTransaction tx, string schema, ChangeKind kind, long subject, string? name,
        long? firstFace = null, long? lastFace = null)
    {
        long seq = Convert.ToInt64(Command(db, tx,
            $"INSERT INTO {schema}changes(kind, subject_id, name, first_face, last_face) VALUES (@k, @s, @n, @a, @b) RETURNING seq",
            ("k", kind.ToString()), ("s", subject), ("n", Typed(name, DbType.String)), ("a", Typed(firstFace, DbType.Int64)), ("b",
                Typed(lastFace, DbType.Int64))).ExecuteScalar(), CultureInfo.InvariantCulture);
        if (seq % 1000 == 0) Trim(db, tx, schema, seq);
    }

    /// <summary>Entries that others wrote in bulk (the last of them <paramref name="last"/>): the trim <see cref="Record"/> would have done.</summary>
    public static void Recorded(DbConnection db, DbTransaction tx, string schema, long first, long last)
    {
        long due = last / 1000 * 1000;
        if (due >= first) Trim(db, tx, schema, due);
    }

    private static void Trim(DbConnection db, DbTransaction tx, string schema, long seq)
    {
        if (seq <= Length) return;
        using var trim = Command(db, tx, $"DELETE FROM {schema}changes WHERE seq <= @t; UPDATE {schema}meta SET value = @ts WHERE key = 'feed_pruned_through';",
            ("t", seq - Length), ("ts", (seq - Length).ToString(CultureInfo.InvariantCulture)));
        trim.ExecuteNonQuery();
    }

    /// <summary>The entries after <paramref name="sequence"/>, oldest first; null when the feed was trimmed past it.</summary>
    public static List<GalleryChange>? Read(DbConnection db, DbTransaction tx, string schema, long sequence, int max,
        Func<long, long, long, List<StoredFace>> facesOf, (int Shard, int Shards)? shard = null)
    {
        using (var pruned = Command(db, tx, $"SELECT value FROM {schema}meta WHERE key = 'feed_pruned_through'"))
            if (long.Parse((string)pruned.ExecuteScalar()!, CultureInfo.InvariantCulture) > sequence) return null;
        var raw = new List<(long Seq, string Kind, long Subject, string? Name, long First, long Last)>();
        // a shard's entries only: its subjects are those whose id modulo the shard count is the shard
        var only = shard is { } k ? $" AND subject_id % {k.Shards} = {k.Shard}" : "";
        using (var cmd = Command(db, tx, $"SELECT seq, kind, subject_id, name, first_face, last_face FROM {schema}changes WHERE seq > @s{only} ORDER BY seq LIMIT @max",
            ("s", sequence), ("max", (long)max)))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
                raw.Add((r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetString(3),
                    r.IsDBNull(4) ? 0 : r.GetInt64(4), r.IsDBNull(5) ? -1 : r.GetInt64(5)));
        var changes = new List<GalleryChange>(raw.Count);
        foreach (var c in raw)
        {
            var kind = Enum.Parse<ChangeKind>(c.Kind);
            if (kind != ChangeKind.Enrolled) { changes.Add(new GalleryChange(c.Seq, kind, c.Subject, c.Name, [])); continue; }
            using var name = Command(db, tx, $"SELECT name FROM {schema}subjects WHERE id = @id", ("id", c.Subject));
            var current = name.ExecuteScalar() as string;
            changes.Add(new GalleryChange(c.Seq, kind, c.Subject, current, current is null ? [] : facesOf(c.Subject, c.First, c.Last)));
        }
        return changes;
    }

    private sealed record TypedNull(DbType Type);

    private static object Typed(object? value, DbType type) => value ?? new TypedNull(type);

    private static DbCommand Command(DbConnection db, DbTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = n;
            if (v is TypedNull t) p.DbType = t.Type; // PostgreSQL must know what a null is
            p.Value = v is null or TypedNull ? DBNull.Value : v;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }
}
