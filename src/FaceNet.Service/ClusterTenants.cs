using FaceNet.Cluster.Shards;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;

namespace FaceNet.Service;

/// <summary>What the tenant endpoints ask of the service's tenants, whether their galleries are in this process or in a cluster's shards.</summary>
internal interface ITenantAdmin
{
    IReadOnlyList<string> List();
    void Make(string tenant);
    bool Remove(string tenant);
}

/// <summary>
/// The tenants a cluster front end serves (<c>serve --cluster</c>), laid out as <see cref="GalleryTenants"/> says (a PostgreSQL
/// schema each): each tenant's gallery is a <see cref="ShardedGallery"/> over shards of its own (grains keyed by tenant and
/// shard, with the tenant's store, master key and data key, and its own shard count), opened when first asked for.
/// The race rule of <see cref="Tenants"/> holds here too: a request holds its tenant through a <see cref="Lease"/>; removing
/// a tenant makes it unknown to new requests, waits for the requests holding it, has its shards leave memory (each silo
/// deletes its graph files of them), then drops its schema (its saved graphs with it); nothing opens a tenant being removed.
/// </summary>
internal sealed class ClusterTenants : ITenantAdmin, IDisposable
{
    private readonly string _location;
    private readonly GalleryModel _model;
    private readonly MasterKey? _key;
    private readonly Orleans.IGrainFactory _grains;
    private readonly int _newShards;
    private readonly TimeSpan _drainWait;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    private sealed class Entry(string name)
    {
        public string Name { get; } = name;
        public Lazy<ShardedGallery>? Gallery;
        public bool Owned = true;
        public int Users;
        public bool Removed;
        public readonly TaskCompletionSource Idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public ClusterTenants(string location, GalleryModel model, MasterKey? key, Orleans.IGrainFactory grains, ShardedGallery defaultGallery, TimeSpan drainWait)
    {
        _location = location;
        _model = model;
        _key = key;
        _grains = grains;
        _newShards = defaultGallery.Shards;
        _drainWait = drainWait;
        _entries[GalleryTenants.Default] = new Entry(GalleryTenants.Default) { Gallery = new Lazy<ShardedGallery>(defaultGallery), Owned = false };
    }

    /// <summary>A request's hold on its tenant's gallery.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly ClusterTenants _owner;
        private readonly Entry _entry;
        private int _released;

        internal Lease(ClusterTenants owner, object entry, ShardedGallery gallery)
        {
            _owner = owner;
            _entry = (Entry)entry;
            Gallery = gallery;
        }

        public ShardedGallery Gallery { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) _owner.Release(_entry);
        }
    }

    /// <summary>Holds the tenant's sharded gallery (opened when first asked for); null when there is no such tenant or it is being removed.</summary>
    public Lease? Acquire(string tenant)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(tenant, out entry))
            {
                if (!GalleryTenants.IsName(tenant) || !GalleryTenants.Exists(_location, tenant)) return null;
                entry = new Entry(tenant);
                var e = entry;
                entry.Gallery = new Lazy<ShardedGallery>(() => Open(e.Name), LazyThreadSafetyMode.ExecutionAndPublication);
                _entries[tenant] = entry;
            }
            if (entry.Removed || entry.Gallery is null) return null;
            entry.Users++;
        }
        try { return new Lease(this, entry, entry.Gallery.Value); }
        catch (Exception e)
        {
            lock (_gate)
                if (_entries.TryGetValue(tenant, out var now) && now == entry && !entry.Removed) _entries.Remove(tenant);
            Release(entry);
            if (e is GalleryException g && g.Kind is FaceNetErrorKind.NotFound) return null;
            if (e is GalleryException ge) throw new TenantException(tenant, "its gallery cannot be opened: " + ge.Message, FaceNetErrorKind.Unavailable);
            throw;
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
            if (--entry.Users == 0 && entry.Removed) entry.Idle.TrySetResult();
    }

    private ShardedGallery Open(string tenant)
    {
        var at = GalleryTenants.LocationOf(_location, tenant);
        var store = GalleryTenants.Open(_location, tenant, _model, _key);
        try { return new ShardedGallery(_grains, store, ShardLayout.Fix(at, _newShards, GalleryTenants.SchemaOf(tenant)), tenant); }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public IReadOnlyList<string> List() => GalleryTenants.List(_location);

    /// <summary>Every tenant with its shard count, for the cluster's status (tenants whose gallery cannot be opened are left out).</summary>
    public IReadOnlyList<(string Tenant, int Shards)> Galleries()
    {
        var list = new List<(string, int)>();
        foreach (var tenant in List())
        {
            using var lease = Acquire(tenant);
            if (lease is not null) list.Add((tenant, lease.Gallery.Shards));
        }
        return list;
    }

    public void Make(string tenant)
    {
        if (!GalleryTenants.IsName(tenant)) throw new ArgumentException($"'{tenant}' is not a tenant name ({GalleryTenants.NameRule})", nameof(tenant));
        lock (_gate)
        {
            if (tenant == GalleryTenants.Default || _entries.ContainsKey(tenant) || GalleryTenants.Exists(_location, tenant))
                throw new TenantException(tenant, "exists already", FaceNetErrorKind.Conflict);
            GalleryTenants.Create(_location, tenant, _model, _key).Dispose();
            var entry = new Entry(tenant);
            entry.Gallery = new Lazy<ShardedGallery>(Open(tenant));
            _entries[tenant] = entry;
        }
    }

    public bool Remove(string tenant)
    {
        if (tenant == GalleryTenants.Default) throw new TenantException(tenant, "the default tenant cannot be removed (remove its subjects instead)",
            FaceNetErrorKind.Conflict);
        if (!GalleryTenants.IsName(tenant)) return false;
        Entry? entry;
        Task idle;
        lock (_gate)
        {
            if (_entries.TryGetValue(tenant, out entry))
            {
                if (entry.Removed) return false;
            }
            else
            {
                if (!GalleryTenants.Exists(_location, tenant)) return false;
                entry = new Entry(tenant); // a tombstone: nothing opens the tenant while it is erased
                _entries[tenant] = entry;
            }
            entry.Removed = true;
            idle = entry.Users == 0 ? Task.CompletedTask : entry.Idle.Task;
        }
        try
        {
            idle.Wait(_drainWait);
            int shards = entry.Gallery is { IsValueCreated: true } g ? g.Value.Shards
                : ShardLayout.Fix(GalleryTenants.LocationOf(_location, tenant), _newShards, GalleryTenants.SchemaOf(tenant));
            // its shards leave the silos' memory, and each silo deletes its graph files of them
            Task.WhenAll(Enumerable.Range(0, shards).Select(k => ShardGrains.Get(_grains, tenant, k).Drop())).Wait(_drainWait);
            if (entry.Gallery is { IsValueCreated: true } open) open.Value.Dispose();
            bool dropped = GalleryTenants.Drop(_location, tenant); // the schema, and the saved graphs in it
            ShardLayout.Forget(_location, GalleryTenants.SchemaOf(tenant));
            return dropped;
        }
        finally
        {
            lock (_gate) _entries.Remove(tenant);
        }
    }

    public void Dispose()
    {
        List<Entry> all;
        lock (_gate) all = [.. _entries.Values];
        foreach (var e in all)
            if (e.Owned && e.Gallery is { IsValueCreated: true } g) g.Value.Dispose();
    }
}
