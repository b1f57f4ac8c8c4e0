using FaceNet.Gallery;
using FaceNet.Gallery.Protection;

namespace FaceNet.Service;

/// <summary>
/// The galleries one service hosts, one per tenant, each its own store (and, encrypted, its own data key),
/// laid out as <see cref="GalleryTenants"/> says: a folder of SQLite files or one PostgreSQL database. A
/// service given one gallery file hosts the tenant <c>default</c> only. An API key acts on its own tenant's
/// gallery, and no other.
/// <para>
/// A request holds its tenant's gallery through a <see cref="Lease"/>. Removing a tenant first makes it
/// unknown to new requests (404), waits for the requests holding it, then closes and erases it: no request
/// works on a closed gallery, and nothing opens (and so re-creates) a tenant that is being removed.
/// </para>
/// </summary>
public sealed class Tenants : ITenantAdmin, IDisposable
{
    void ITenantAdmin.Make(string tenant) => Create(tenant);

    public const string Default = GalleryTenants.Default;
    internal const string NameRule = GalleryTenants.NameRule;

    private readonly string? _location;
    private readonly GalleryModel _model;
    private readonly MasterKey? _key;
    private readonly Func<FaceGallery, CancellationToken, Task> _follow;
    private readonly TimeSpan _drainWait;
    // every tenant opened (or being opened, or being removed); guarded by _gate
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    internal sealed class Entry(string name)
    {
        public string Name { get; } = name;
        public Lazy<FaceGallery>? Gallery;           // null for a tenant being removed that was never opened
        public bool Owned = true;                    // false: the service's default gallery, disposed by the service
        public CancellationTokenSource? StopFollowing;
        public Task? Following;
        public int Users;                            // requests holding it (guarded by _gate)
        public bool Removed;                         // no new lease once set (guarded by _gate)
        public readonly TaskCompletionSource Idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    internal Tenants(string? location, GalleryModel model, MasterKey? key, FaceGallery? defaultGallery, Func<FaceGallery, CancellationToken, Task> follow,
        TimeSpan drainWait)
    {
        _location = location;
        _model = model;
        _key = key;
        _follow = follow;
        _drainWait = drainWait;
        if (defaultGallery is not null)
        {
            var g = defaultGallery;
            _entries[Default] = new Entry(Default) { Gallery = new Lazy<FaceGallery>(g), Owned = false };
        }
    }

    public static bool IsName(string name) => GalleryTenants.IsName(name);

    /// <summary>Whether the location is a folder of tenants' galleries (an existing folder, or a path ending in /).</summary>
    public static bool IsFolder(string location) => GalleryTenants.IsFolder(location);

    /// <summary>Where the default tenant's gallery is: the file, DIR/default.db, or the database.</summary>
    public static string DefaultLocation(string location) => GalleryTenants.LocationOf(location, Default);

    private bool Hosting => _location is not null && GalleryTenants.Hosts(_location);

    /// <summary>A request's hold on its tenant's gallery: the tenant is not closed or erased while it is held.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly Tenants _owner;
        private readonly Entry _entry;
        private int _released;

        internal Lease(Tenants owner, Entry entry, FaceGallery gallery)
        {
            _owner = owner;
            _entry = entry;
            Gallery = gallery;
        }

        public FaceGallery Gallery { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) _owner.Release(_entry);
        }
    }

    /// <summary>
    /// Holds the tenant's gallery, opening it when first asked for; null when there is no such tenant (or it is being
    /// removed). A tenant whose gallery cannot be opened (locked, damaged, unreachable) is a <see cref="TenantException"/>
    /// of kind <see cref="FaceNetErrorKind.Unavailable"/> naming the reason.
    /// </summary>
    public Lease? Acquire(string tenant)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(tenant, out entry))
            {
                if (_location is null || !IsName(tenant) || (tenant != Default && !Hosting) || !GalleryTenants.Exists(_location, tenant)) return null;
                entry = new Entry(tenant);
                var e = entry;
                entry.Gallery = new Lazy<FaceGallery>(() => OpenGallery(e), LazyThreadSafetyMode.ExecutionAndPublication);
                _entries[tenant] = entry;
            }
            if (entry.Removed || entry.Gallery is null) return null;
            entry.Users++;
        }
        try { return new Lease(this, entry, entry.Gallery.Value); }
        catch (Exception e)
        {
            lock (_gate)
                if (_entries.TryGetValue(tenant, out var now) && now == entry && !entry.Removed) _entries.Remove(tenant); // tried again next time
            Release(entry);
            if (e is GalleryException g && g.Kind is FaceNetErrorKind.NotFound) return null; // removed by another process meanwhile
            if (e is GalleryException ge) throw new TenantException(tenant, "its gallery cannot be opened: " + ge.Message, FaceNetErrorKind.Unavailable);
            throw;
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
            if (--entry.Users == 0 && entry.Removed) entry.Idle.TrySetResult();
    }

    /// <summary>The tenant's gallery (opened when first asked for), or null when there is no such tenant. Not held: for a request, <see cref="Acquire"/>.</summary>
    public FaceGallery? Find(string tenant)
    {
        using var lease = Acquire(tenant);
        return lease?.Gallery;
    }

    /// <summary>Every tenant, <c>default</c> first.</summary>
    public IReadOnlyList<string> List() => _location is null || !Hosting ? [Default] : GalleryTenants.List(_location);

    /// <summary>
    /// The tenants whose galleries cannot be opened now (locked without the master key, a plain gallery with faces given a key,
    /// damaged), each with the reason; their requests are answered 503 with it, the others are served.
    /// </summary>
    public IReadOnlyList<(string Tenant, string Reason)> Check()
    {
        var problems = new List<(string, string)>();
        if (_location is null) return problems;
        foreach (var tenant in List())
        {
            lock (_gate)
                if (_entries.TryGetValue(tenant, out var e) && e.Gallery is { IsValueCreated: true }) continue;
            try
            {
                using var store = GalleryTenants.Open(_location, tenant, _model, _key, readOnly: true);
            }
            catch (GalleryException e) when (e.Kind is not FaceNetErrorKind.NotFound) { problems.Add((tenant, e.Message)); }
        }
        return problems;
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
            if (tenant == Default || _entries.ContainsKey(tenant) || GalleryTenants.Exists(_location!, tenant))
                throw new TenantException(tenant, "exists already", FaceNetErrorKind.Conflict);
            var store = GalleryTenants.Create(_location!, tenant, _model, _key);
            var entry = new Entry(tenant);
            FaceGallery g;
            try { g = Follow(entry, FaceGallery.Open(store)); }
            catch
            {
                store.Dispose();
                throw;
            }
            entry.Gallery = new Lazy<FaceGallery>(g);
            _entries[tenant] = entry;
            return g;
        }
    }

    /// <summary>
    /// Erases a tenant: its gallery's files (SQLite) or its schema (PostgreSQL). From the call on, its keys find no
    /// tenant; the requests holding its gallery finish first (for up to the service's request time limit). The default tenant stays.
    /// </summary>
    public bool Remove(string tenant)
    {
        if (tenant == Default) throw new TenantException(tenant, "the default tenant cannot be removed (remove its subjects instead)",
            FaceNetErrorKind.Conflict);
        if (!Hosting || !IsName(tenant)) return false;
        Entry? entry;
        Task idle;
        lock (_gate)
        {
            if (_entries.TryGetValue(tenant, out entry))
            {
                if (entry.Removed) return false; // another call is removing it
            }
            else
            {
                if (!GalleryTenants.Exists(_location!, tenant)) return false;
                entry = new Entry(tenant); // a tombstone: nothing opens the tenant while it is erased
                _entries[tenant] = entry;
            }
            entry.Removed = true;
            idle = entry.Users == 0 ? Task.CompletedTask : entry.Idle.Task;
        }
        try
        {
            idle.Wait(_drainWait);
            Close(entry);
            return GalleryTenants.Drop(_location!, tenant) || entry.Gallery is not null;
        }
        finally
        {
            lock (_gate) _entries.Remove(tenant);
        }
    }

    /// <summary>The galleries open now.</summary>
    public IReadOnlyList<FaceGallery> Open()
    {
        lock (_gate) return [.. _entries.Values.Where(e => e.Gallery is { IsValueCreated: true } && !e.Removed).Select(e => e.Gallery!.Value)];
    }

    private FaceGallery OpenGallery(Entry entry)
    {
        var store = GalleryTenants.Open(_location!, entry.Name, _model, _key);
        try { return Follow(entry, FaceGallery.Open(store)); }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    // each opened tenant's gallery follows its store (other replicas' writes) until it is closed
    private FaceGallery Follow(Entry entry, FaceGallery g)
    {
        var stop = new CancellationTokenSource();
        entry.StopFollowing = stop;
        entry.Following = Task.Run(() => _follow(g, stop.Token));
        return g;
    }

    // stops following, then closes: a store is not disposed under a follower that is using it
    private static void Close(Entry entry)
    {
        if (entry.StopFollowing is { } stop)
        {
            stop.Cancel();
            try { entry.Following?.Wait(TimeSpan.FromSeconds(30)); }
            catch (AggregateException) { } // a follower's end, cancelled or failed: the gallery closes either way
            stop.Dispose();
        }
        if (entry.Owned && entry.Gallery is { IsValueCreated: true } g)
        {
            try { g.Value.Dispose(); }
            catch (Exception e) when (e is GalleryException or ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        List<Entry> all;
        lock (_gate) all = [.. _entries.Values];
        foreach (var e in all) Close(e); // the default one is the service's own (not owned: only its follower, if any, stops)
    }
}
