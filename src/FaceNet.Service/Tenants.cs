using System.Collections.Concurrent;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using Npgsql;

namespace FaceNet.Service;

/// <summary>A tenant that does not exist, or cannot be made or removed here.</summary>
public sealed class TenantException(string tenant, string reason, FaceNetErrorKind kind) : FaceNetException("tenant " + tenant, reason, kind: kind);

/// <summary>
/// The galleries one service hosts, one per tenant, each its own store (and, encrypted, its own data key):
/// a folder of SQLite files (<c>DIR/TENANT.db</c>) or one PostgreSQL database (a schema per tenant:
/// <c>facenet</c> for <c>default</c>, <c>facenet_TENANT</c> for the others). A service given one gallery
/// file hosts the tenant <c>default</c> only. An API key acts on its own tenant's gallery, and no other.
/// </summary>
public sealed class Tenants : IDisposable
{
    public const string Default = "default";
    internal const string NameRule = "1 to 40 lower-case letters, digits and _, starting with a letter";

    private readonly string? _location;
    private readonly GalleryModel _model;
    private readonly MasterKey? _key;
    private readonly Func<FaceGallery, CancellationToken, Task> _follow;
    private readonly ConcurrentDictionary<string, FaceGallery> _open = new(StringComparer.Ordinal);
    // each opened tenant's gallery follows its store (other replicas' writes) until it is closed
    private readonly ConcurrentDictionary<string, (CancellationTokenSource Stop, Task Following)> _following = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    internal Tenants(string? location, GalleryModel model, MasterKey? key, FaceGallery? defaultGallery, Func<FaceGallery, CancellationToken, Task> follow)
    {
        _location = location;
        _model = model;
        _key = key;
        _follow = follow;
        if (defaultGallery is not null) _open[Default] = defaultGallery;
    }

    public static bool IsName(string name) => name.Length is > 0 and <= 40 && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    /// <summary>Whether the location is a folder of tenants' galleries (an existing folder, or a path ending in /).</summary>
    public static bool IsFolder(string location)
        => !GalleryStores.IsPostgres(location) && (Directory.Exists(location) || location.EndsWith('/') || location.EndsWith(Path.DirectorySeparatorChar));

    /// <summary>Where the default tenant's gallery is: the file, DIR/default.db, or the database.</summary>
    public static string DefaultLocation(string location) => IsFolder(location) ? Path.Combine(location, Default + ".db") : location;

    private bool Hosting => _location is not null && (IsFolder(_location) || GalleryStores.IsPostgres(_location));

    /// <summary>The tenant's gallery, or null when there is no such tenant.</summary>
    public FaceGallery? Find(string tenant)
    {
        if (_open.TryGetValue(tenant, out var g)) return g;
        if (tenant == Default || !Hosting || !IsName(tenant) || !Exists(tenant)) return null;
        lock (_gate)
        {
            if (_open.TryGetValue(tenant, out g)) return g;
            return Open(tenant);
        }
    }

    /// <summary>Every tenant, <c>default</c> first.</summary>
    public IReadOnlyList<string> List()
    {
        var names = new List<string> { Default };
        if (_location is null || !Hosting) return names;
        if (GalleryStores.IsPostgres(_location))
        {
            using var conn = new NpgsqlConnection(_location);
            conn.Open();
            using var cmd = new NpgsqlCommand("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'facenet\\_%' ORDER BY nspname", conn);
            using var r = cmd.ExecuteReader();
            while (r.Read()) names.Add(r.GetString(0)["facenet_".Length..]);
        }
        else if (Directory.Exists(_location))
            names.AddRange(Directory.EnumerateFiles(_location,
                "*.db").Select(f => Path.GetFileNameWithoutExtension(f)).Where(n => n != Default && IsName(n)).Order(StringComparer.Ordinal));
        return names;
    }

    /// <summary>Makes a tenant's gallery (empty, bound to the service's model, encrypted when the service has a master key).</summary>
    public FaceGallery Create(string tenant)
    {
        // a bad name is the caller's argument, as a subject's is (GalleryStore.ValidateName)
        if (!IsName(tenant)) throw new ArgumentException($"'{tenant}' is not a tenant name ({NameRule})", nameof(tenant));
        if (!Hosting) throw new TenantException(tenant,
            "this service hosts one gallery file: start it with a folder (-g DIR/) or a PostgreSQL database to host tenants", FaceNetErrorKind.Conflict);
        lock (_gate)
        {
            if (tenant == Default || _open.ContainsKey(tenant) || Exists(tenant)) throw new TenantException(tenant, "exists already",
                FaceNetErrorKind.Conflict);
            return Open(tenant);
        }
    }

    /// <summary>Erases a tenant: its gallery's files (SQLite) or its schema (PostgreSQL). The default tenant stays.</summary>
    public bool Remove(string tenant)
    {
        if (tenant == Default) throw new TenantException(tenant, "the default tenant cannot be removed (remove its subjects instead)",
            FaceNetErrorKind.Conflict);
        if (!Hosting || !IsName(tenant)) return false;
        lock (_gate)
        {
            if (!_open.ContainsKey(tenant) && !Exists(tenant)) return false;
            Close(tenant);
            if (GalleryStores.IsPostgres(_location!))
            {
                using var conn = new NpgsqlConnection(_location);
                conn.Open();
                using var cmd = new NpgsqlCommand($"DROP SCHEMA {PostgresGalleryStore.SchemaOf(tenant)} CASCADE", conn); // a checked name
                cmd.ExecuteNonQuery();
            }
            else GalleryStores.Delete(PathOf(tenant));
            return true;
        }
    }

    /// <summary>The galleries open now.</summary>
    public IReadOnlyList<FaceGallery> Open() => [.. _open.Values];

    private string PathOf(string tenant) => Path.Combine(_location!, tenant + ".db");

    private bool Exists(string tenant) => GalleryStores.IsPostgres(_location!)
        ? PostgresGalleryStore.Exists(_location!, PostgresGalleryStore.SchemaOf(tenant))
        : File.Exists(PathOf(tenant));

    private FaceGallery Open(string tenant)
    {
        var store = GalleryStores.IsPostgres(_location!)
            ? PostgresGalleryStore.Open(_location!, _model, key: _key, schema: PostgresGalleryStore.SchemaOf(tenant))
            : (IGalleryStore)GalleryStore.Open(PathOf(tenant), _model, key: _key);
        var g = FaceGallery.Open(store);
        _open[tenant] = g;
        var stop = new CancellationTokenSource();
        _following[tenant] = (stop, Task.Run(() => _follow(g, stop.Token)));
        return g;
    }

    // stops following, then closes: a store is not disposed under a follower that is using it
    private void Close(string tenant)
    {
        if (_following.TryRemove(tenant, out var f))
        {
            f.Stop.Cancel();
            try { f.Following.Wait(TimeSpan.FromSeconds(30)); }
            catch (AggregateException) { } // a follower's end, cancelled or failed: the gallery closes either way
            f.Stop.Dispose();
        }
        if (_open.TryRemove(tenant, out var g)) g.Dispose();
    }

    public void Dispose()
    {
        foreach (var name in _open.Keys.Where(n => n != Default).ToList()) Close(name); // the default one is the service's own
    }
}
