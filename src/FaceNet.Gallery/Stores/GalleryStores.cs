namespace FaceNet.Gallery;

/// <summary>Opens a gallery by where it lives: a PostgreSQL connection string (<c>Host=…;Database=…</c>) or an SQLite file path.</summary>
public static class GalleryStores
{
    /// <summary>True for a PostgreSQL connection string (keywords such as <c>Host=</c>), false for a file path.</summary>
    public static bool IsPostgres(string location)
        => location.Contains('=') && location.Split(';').Any(p => p.Split('=')[0].Trim().ToLowerInvariant() is "host" or "server");

    /// <summary>Opens a gallery; an encrypted one needs its <paramref name="key"/>, and a new one opened with a key is encrypted.</summary>
    /// <param name="create">false: an existing gallery only, never made by opening it.</param>
    public static IGalleryStore Open(string location, GalleryModel? model, bool readOnly = false, Protection.MasterKey? key = null, bool create = true)
        => IsPostgres(location) ? PostgresGalleryStore.Open(location, model, readOnly, key, create: create) : GalleryStore.Open(location, model, readOnly, key, create);

    /// <summary>Opens a plain gallery with the key that is to encrypt it: the one open of a plain gallery with faces that a key may make.</summary>
    internal static IGalleryStore OpenToEncrypt(string location, Protection.MasterKey key)
        => IsPostgres(location) ? PostgresGalleryStore.Open(location, null, false, key, null, create: false, plainWithKey: true)
            : GalleryStore.Open(location, null, false, key, create: false, plainWithKey: true);

    /// <summary>
    /// Deletes an SQLite gallery with its side files (<c>-wal</c>, <c>-shm</c>, <c>-journal</c>) and the saved
    /// HNSW graph, as far as it can (a file another process holds stays); a PostgreSQL gallery is left alone.
    /// </summary>
    public static void Delete(string location)
    {
        if (IsPostgres(location)) return;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { location, location + "-wal", location + "-shm", location + "-journal", location + ".hnsw", location + ".hnsw.stamp" })
            try { if (File.Exists(f)) File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Whether a gallery already exists there (a file, or a database holding a bound gallery).</summary>
    public static bool Exists(string location)
        => IsPostgres(location) ? PostgresGalleryStore.Exists(location) : File.Exists(location);
}
