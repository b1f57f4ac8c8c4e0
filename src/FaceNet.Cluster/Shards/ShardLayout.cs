using Npgsql;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// How many shards a gallery is cut into: fixed by the first silo that starts on it and kept in the database
/// (table <c>orleans.gallery_shards</c>), since a subject's shard is its id modulo the count and every silo
/// must agree. A silo started with another count is refused.
/// </summary>
public static class ShardLayout
{
    /// <summary>The gallery's shard count: the stored one, or <paramref name="requested"/> (then stored) when none is.</summary>
    public static int Fix(string connectionString, int requested, string schema = "facenet")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requested, 1);
        try { return Read(connectionString, requested, schema); }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw new Gallery.GalleryException(Gallery.PostgresGalleryStore.Redact(connectionString), "cannot reach the cluster's database: " + e.Message,
                FaceNetErrorKind.Unavailable, e);
        }
    }

    /// <summary>Forgets a gallery's shard count (its tenant removed: a tenant made again under the name fixes its own).</summary>
    public static void Forget(string connectionString, string schema)
    {
        try
        {
            using var conn = new NpgsqlConnection(connectionString);
            conn.Open();
            using var cmd = new NpgsqlCommand("DELETE FROM orleans.gallery_shards WHERE gallery = @g", conn);
            cmd.Parameters.AddWithValue("g", schema);
            cmd.ExecuteNonQuery();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable) { }
    }

    private static int Read(string connectionString, int requested, string schema)
    {
        using var conn = new NpgsqlConnection(connectionString);
        conn.Open();
        using (var create = new NpgsqlCommand(
            "CREATE SCHEMA IF NOT EXISTS orleans; CREATE TABLE IF NOT EXISTS orleans.gallery_shards (gallery text PRIMARY KEY, shards int NOT NULL)", conn))
        {
            // two silos starting at once may both create it
            try { create.ExecuteNonQuery(); }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateObject) { }
        }
        using var cmd = new NpgsqlCommand(
            "INSERT INTO orleans.gallery_shards VALUES (@g, @n) ON CONFLICT (gallery) DO NOTHING; SELECT shards FROM orleans.gallery_shards WHERE gallery = @g", conn);
        cmd.Parameters.AddWithValue("g", schema);
        cmd.Parameters.AddWithValue("n", requested);
        return (int)cmd.ExecuteScalar()!;
    }
}
