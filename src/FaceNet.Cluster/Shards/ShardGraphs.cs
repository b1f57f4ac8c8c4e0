using FaceNet.Gallery;
using Npgsql;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// Where the shards' saved graphs are on a silo's disk, and their upkeep: a folder per database and gallery schema under
/// the silo's graph directory, one file per shard (<c>shard-K-of-N.graph</c>, see <see cref="SavedGraph"/>); the copy in
/// the database (table <c>shard_graphs</c>) is the one every silo reaches and the newer one wins.
/// </summary>
public static class ShardGraphs
{
    /// <summary>The default graph directory: <c>$XDG_CACHE_HOME/facenet/graphs</c> (or <c>~/.cache/facenet/graphs</c>).</summary>
    public static string DefaultDirectory => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
        "facenet", "graphs");

    /// <summary>The folder of one gallery's graphs: its database (host, port, name) and schema.</summary>
    public static string Folder(string directory, string connectionString, string schema)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var where = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{b.Host}:{b.Port}/{b.Database}")))[..12];
        return Path.Combine(directory, $"{b.Database}-{where}", schema);
    }

    /// <summary>Deletes a shard's saved graphs: this silo's file and the database's copy.</summary>
    public static void Delete(PostgresGalleryStore store, string? localPath, int shard, int shards)
    {
        if (localPath is not null) DeleteFile(localPath);
        store.DeleteShardGraph(shard, shards);
    }

    /// <summary>
    /// Deletes this silo's graph files of a gallery that the database's copies have superseded (or that the database no
    /// longer has): a silo killed while it held a shard keeps its file, and the owner after it may have erased faces since.
    /// Run as the silo starts, before it loads a shard.
    /// </summary>
    public static int Prune(string directory, string connectionString, PostgresGalleryStore store)
    {
        var folder = Folder(directory, connectionString, store.GallerySchema);
        if (!Directory.Exists(folder)) return 0;
        var saved = store.ShardGraphPositions();
        int deleted = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "shard-*.graph"))
        {
            var parts = Path.GetFileNameWithoutExtension(file).Split('-'); // shard-K-of-N
            long? position;
            try
            {
                using var f = File.OpenRead(file);
                var head = new byte[4096];
                position = SavedGraph.PeekPosition(head.AsSpan(0, f.Read(head)));
            }
            catch (IOException) { position = null; }
            bool keep = parts.Length == 4 && int.TryParse(parts[1], out int k) && int.TryParse(parts[3], out int n)
                && position is { } p && saved.TryGetValue((k, n), out var db) && p >= db;
            if (!keep && DeleteFile(file)) deleted++;
        }
        return deleted;
    }

    /// <summary>
    /// <see cref="Prune"/> for every tenant's gallery in the database, and deletes the folders of schemas that no longer exist
    /// (tenants removed while this silo was away).
    /// </summary>
    public static void PruneAll(string directory, string connectionString, Gallery.Protection.MasterKey? key)
    {
        var tenants = GalleryTenants.List(connectionString);
        var schemas = tenants.Select(GalleryTenants.SchemaOf).ToHashSet(StringComparer.Ordinal);
        var root = Path.GetDirectoryName(Folder(directory, connectionString, PostgresGalleryStore.DefaultSchema))!;
        if (Directory.Exists(root))
            foreach (var folder in Directory.EnumerateDirectories(root).Where(f => !schemas.Contains(Path.GetFileName(f))))
                try { Directory.Delete(folder, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        foreach (var tenant in tenants)
        {
            var at = GalleryTenants.LocationOf(connectionString, tenant);
            if (!GalleryStores.Exists(at)) continue;
            try
            {
                using var store = PostgresGalleryStore.Open(at, null, readOnly: true, key: key, create: false);
                Prune(directory, at, store);
            }
            catch (GalleryException) { } // a tenant that cannot be opened here (locked): its shards cannot load either
        }
    }

    /// <summary>Deletes a gallery's folder of graph files (a tenant removed).</summary>
    public static void DeleteFolder(string directory, string connectionString, string schema)
    {
        var folder = Folder(directory, connectionString, schema);
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static bool DeleteFile(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
