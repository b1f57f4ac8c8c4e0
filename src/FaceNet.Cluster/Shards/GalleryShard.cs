using System.Collections.Concurrent;
using FaceNet.Gallery;

namespace FaceNet.Cluster.Shards;

/// <summary>The shards active on this silo (tenant, shard), which its follower and rebalancer act on; and the gate that loads two at a time.</summary>
internal sealed class LocalShards(ShardSettings settings)
{
    /// <summary>Shards reading from PostgreSQL at once on this silo: more only thrash the database and the cores.</summary>
    public SemaphoreSlim Loading { get; } = new(2, 2);

    private readonly object _pruning = new();
    private bool _pruned;

    /// <summary>
    /// Once per silo, before its first shard loads: this silo's graph files that the database's copies have superseded are
    /// deleted (a shard erased faces elsewhere since). Never beside loading shards: a shard writes its file before the
    /// database's copy, and a prune between the two would take the new file for a stale one.
    /// </summary>
    public void PruneOnce()
    {
        if (settings.GraphDirectory is not { } dir) return;
        lock (_pruning)
        {
            if (_pruned) return;
            ShardGraphs.PruneAll(dir, settings.ConnectionString, settings.Key);
            _pruned = true;
        }
    }

    private readonly ConcurrentDictionary<(string Tenant, int Shard), byte> _keys = new();
    public void Add(string tenant, int shard) => _keys[(tenant, shard)] = 0;
    public void Remove(string tenant, int shard) => _keys.TryRemove((tenant, shard), out _);
    public IReadOnlyList<(string Tenant, int Shard)> Keys => [.. _keys.Keys.OrderBy(k => k.Tenant, StringComparer.Ordinal).ThenBy(k => k.Shard)];

    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    /// <summary>A tenant's gallery: its connection string (the tenant's schema) and its shard count (fixed when its first shard started).</summary>
    public (string ConnectionString, int Shards) Gallery(string tenant)
    {
        var at = GalleryTenants.LocationOf(settings.ConnectionString, tenant);
        int shards = tenant == GalleryTenants.Default ? settings.Shards
            : _counts.GetOrAdd(tenant, t => ShardLayout.Fix(at, settings.Shards, GalleryTenants.SchemaOf(t)));
        return (at, shards);
    }

    /// <summary>Forgets a removed tenant's shard count (a tenant made again under the name fixes its own).</summary>
    public void Forget(string tenant) => _counts.TryRemove(tenant, out _);
}

[ShardPlacement]
[CollectionAgeLimit(AlwaysActive = true)] // an idle shard stays loaded: collecting it would make the next search wait for a reload
internal sealed class GalleryShardGrain(ShardSettings settings, LocalShards local, ILocalSiloDetails silo) : Grain, IGalleryShard, IDisposable
{
    private FaceIndex? _index;
    // the store, opened once per activation (each catch-up reads the feed through it)
    private PostgresGalleryStore? _store;
    private readonly List<long> _subjectOfRow = [];   // −1 once erased
    private readonly List<float> _yawOfRow = [];      // NaN: not recorded (counted as frontal)
    private readonly Dictionary<long, List<int>> _rowsOfSubject = [];
    private readonly Dictionary<long, string> _names = [];
    private readonly Dictionary<string, long> _ids = new(StringComparer.Ordinal);
    private long _sequence;

    private int Shard => (int)this.GetPrimaryKeyLong(out _);

    private string Tenant => this.GetPrimaryKeyLong(out var tenant) >= 0 && tenant is { Length: > 0 } ? tenant : GalleryTenants.Default;

    // the tenant's gallery: its schema's connection string and shard count
    private (string ConnectionString, int Shards) _gallery;
    private int Shards => _gallery.Shards;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // not cancelled with the activation's token (Orleans gives an activation 30 s): a shard waiting its turn to load still loads
        await local.Loading.WaitAsync(CancellationToken.None);
        // off Orleans' scheduler threads: a large shard reads for seconds, and those threads also answer the silo's liveness probes
        try
        {
            await Task.Run(() => Guarded(() =>
            {
                local.PruneOnce();
                _gallery = local.Gallery(Tenant);
                if (Shard >= _gallery.Shards) throw new ShardUnavailableException($"tenant {Tenant} has {_gallery.Shards} shards, not {Shard + 1}");
                Load();
            }), CancellationToken.None);
        }
        finally { local.Loading.Release(); }
        local.Add(Tenant, Shard);
    }

    private void Guarded(Action work)
    {
        try { work(); }
        catch (FaceNetException e) { throw new ShardUnavailableException($"shard {Shard}: {e.Message}"); }
    }

    private PostgresGalleryStore Store => _store ??= PostgresGalleryStore.Open(_gallery.ConnectionString, null, readOnly: true, key: settings.Key, create: false);

    // how the shard got its graph (see ShardStatus.Graph), the position of its last saved graph, the changes applied since
    private string _graph = "exact";
    private long _savedAt;
    private int _sinceSave;

    private void Load()
    {
        var store = Store;
        if (TryLoadSaved(store)) return;
        var snapshot = store.ShardSnapshot(Shard, Shards);
        Clear();
        foreach (var s in snapshot.Subjects) Name(s.Id, s.Name);
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, settings.Index);
        Add(snapshot.Faces.Select(f => (f.SubjectId, f.Embedding, f.Yaw)).ToList());
        _sequence = snapshot.Sequence;
        _graph = _index.IsApproximate ? "built" : "exact";
        if (_index.IsApproximate) Save(erasure: false);
    }

    private void Clear()
    {
        _index?.Dispose();
        _index = null;
        _names.Clear();
        _ids.Clear();
        _subjectOfRow.Clear();
        _yawOfRow.Clear();
        _rowsOfSubject.Clear();
    }

    private FaceIndexOptions IndexOptions => settings.Index ?? new FaceIndexOptions();

    private SavedGraph.Header Expected(PostgresGalleryStore store, long position = 0, int rows = 0)
        => new(store.Model.Id, store.Model.EmbeddingSize, IndexOptions.Connectivity, Shard, Shards, position, rows);

    /// <summary>This silo's file of the shard's graph: a folder per database and schema under <see cref="ShardSettings.GraphDirectory"/>.</summary>
    private string? LocalPath(PostgresGalleryStore store)
        => settings.GraphDirectory is { } dir ? Path.Combine(ShardGraphs.Folder(dir, _gallery.ConnectionString, store.GallerySchema),
            $"shard-{Shard}-of-{Shards}.graph") : null;

    /// <summary>
    /// Takes the newest saved graph that opens (this silo's file, or the database's copy, which every silo reaches), reads the
    /// shard's names, applies the feed after the graph's position, and checks the faces counted against the store's: a
    /// damaged file, one of another model, shard or key, one older than the feed reaches back, or one that does not add up is
    /// left alone and the shard is built from the store instead.
    /// </summary>
    private bool TryLoadSaved(PostgresGalleryStore store)
    {
        var expected = Expected(store);
        var key = store.GraphKey();
        SavedGraph.Contents? best = null;
        string from = "";
        if (LocalPath(store) is { } path && File.Exists(path))
        {
            try { best = SavedGraph.Decode(File.ReadAllBytes(path), expected, key); }
            catch (IOException) { }
            from = "disk";
        }
        if (store.ReadShardGraph(Shard, Shards) is { } saved && (best is null || saved.Position > best.Header.Position)
            && SavedGraph.Decode(saved.Bytes, expected, key) is { } shared)
        {
            best = shared;
            from = "database";
        }
        if (best is null) return false;
        if (!store.FeedReaches(best.Header.Position)) return false; // stale: the changes since are no longer all in the feed
        var removed = Enumerable.Range(0, best.SubjectOfRow.Length).Where(i => best.SubjectOfRow[i] < 0).ToList();
        var index = FaceIndex.FromGraph(store.Model.EmbeddingSize, store.Model.Metric, IndexOptions, best.Graph, best.SubjectOfRow.Length, removed);
        if (index is null) return false;
        Clear();
        _index = index;
        foreach (var (id, name) in store.ShardNames(Shard, Shards)) Name(id, name);
        for (int row = 0; row < best.SubjectOfRow.Length; row++)
        {
            long subject = best.SubjectOfRow[row];
            _subjectOfRow.Add(subject);
            _yawOfRow.Add(best.YawOfRow[row]);
            if (subject < 0) continue;
            if (!_rowsOfSubject.TryGetValue(subject, out var rows)) _rowsOfSubject[subject] = rows = [];
            rows.Add(row);
        }
        _sequence = best.Header.Position;
        _savedAt = best.Header.Position;
        _graph = from;
        CatchUpNow();
        if (_index is null || _index.Count != store.ShardFaceCount(Shard, Shards))
        {
            Clear();
            _graph = "exact";
            return false; // it does not add up: never trusted
        }
        return true;
    }

    /// <summary>
    /// Saves the shard's graph with the feed position it covers: to this silo's disk (replaced whole, readable by its owner only)
    /// and to the database. <paramref name="erasure"/>: a face was erased since the last save, and the graphs saved before must
    /// no longer hold it once the erasure is acknowledged (the caller waits for this). A shard without a graph (exact) keeps
    /// none: an erasure deletes what an earlier, larger shard saved.
    /// </summary>
    private void Save(bool erasure)
    {
        var store = Store;
        if (_index is not { IsApproximate: true } index)
        {
            if (erasure && _savedAt > 0) ShardGraphs.Delete(store, LocalPath(store), Shard, Shards);
            _savedAt = 0;
            return;
        }
        var graph = index.SerializeGraph()!;
        var bytes = SavedGraph.Encode(Expected(store, _sequence, _subjectOfRow.Count), _subjectOfRow, _yawOfRow, graph, store.GraphKey());
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(graph);
        if (LocalPath(store) is { } path)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                AtomicFile.Write(path, bytes, ownerOnly: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a disk that cannot take it: the database's copy is the one to load; an older file must not outlive an erasure
                try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        store.WriteShardGraph(Shard, Shards, _sequence, bytes, erasure);
        _savedAt = _sequence;
        _sinceSave = 0;
    }

    private void Name(long id, string name)
    {
        if (_names.TryGetValue(id, out var was)) _ids.Remove(was);
        _names[id] = name;
        _ids[name] = id;
    }

    private void Add(IReadOnlyList<(long Subject, float[] Embedding, double? Yaw)> faces)
    {
        _index!.Add(faces.Select(f => f.Embedding).ToList());
        foreach (var (subject, _, yaw) in faces)
        {
            if (!_rowsOfSubject.TryGetValue(subject, out var rows)) _rowsOfSubject[subject] = rows = [];
            rows.Add(_subjectOfRow.Count);
            _subjectOfRow.Add(subject);
            _yawOfRow.Add(yaw is { } y ? (float)y : float.NaN);
        }
    }

    public Task CatchUp()
    {
        Guarded(CatchUpNow);
        return Task.CompletedTask;
    }

    private void CatchUpNow()
    {
        bool erased = false;
        while (true)
        {
            var changes = _store!.ChangesSince(_sequence, Shard, Shards);
            if (changes is null) // the feed no longer reaches back: read the shard again
            {
                Load();
                return;
            }
            if (changes.Count == 0)
            {
                // a shard that grew into a graph keeps it from now on
                bool grown = _index is { IsApproximate: true } && _graph == "exact";
                if (grown) _graph = "built";
                // an erasure is acknowledged after this returns: the saved graphs must not hold the erased faces by then
                if (erased || grown) Save(erasure: erased);
                else if (_sinceSave >= settings.SaveEvery) Save(erasure: false);
                return;
            }
            foreach (var c in changes)
            {
                _sequence = c.Sequence;
                _sinceSave++;
                switch (c.Kind)
                {
                    case ChangeKind.Enrolled when c.Faces.Count > 0 && c.Name is { } name:
                        Name(c.SubjectId, name);
                        Add(c.Faces.Select(f => (c.SubjectId, f.Embedding, f.Yaw)).ToList());
                        break;
                    case ChangeKind.Renamed when c.Name is { } newName:
                        Name(c.SubjectId, newName);
                        break;
                    case ChangeKind.Removed:
                        if (_rowsOfSubject.Remove(c.SubjectId, out var rows))
                        {
                            _index!.Remove(rows);
                            foreach (var i in rows) _subjectOfRow[i] = -1;
                            erased |= _savedAt > 0 && rows.Count > 0; // a saved graph may hold it
                        }
                        if (_names.Remove(c.SubjectId, out var gone)) _ids.Remove(gone);
                        break;
                }
            }
        }
    }

    public Task<ShardAnswer> Search(ShardQuery q)
    {
        long left = q.Excluding is not null && _ids.TryGetValue(q.Excluding, out var id) ? id : -1;
        int own = left >= 0 ? _rowsOfSubject.GetValueOrDefault(left)?.Count ?? 0 : 0;
        if (_index is not { Count: > 0 } index) return Task.FromResult(new ShardAnswer([], 0, _names.Count, own, left >= 0));
        // the single-process gallery's own search, over this shard's faces
        // (a compact shard's best by their codes: the caller re-ranks the merged list from the store, once for all shards)
        var hits = SubjectSearch.Best(index, _subjectOfRow, _rowsOfSubject, _names, q.Embedding, q.Top, q.Aggregation, left, store: null, _yawOfRow,
                SubjectSearch.Offsets(q.Bands, q.Yaw))
            .Select(c => new ShardHit(c.Name, c.Distance, c.SubjectId!.Value) { Offset = c.Offset }).ToArray();
        return Task.FromResult(new ShardAnswer(hits, index.Count, _names.Count, own, left >= 0) { Approximate = !index.IsExact });
    }

    public Task<(int Subjects, int Faces)> Size() => Task.FromResult((_names.Count, _index?.Count ?? 0));

    public Task<long[]> SubjectIds()
        => Task.FromResult(_rowsOfSubject.Where(p => p.Value.Count > 0 && _names.ContainsKey(p.Key)).Select(p => p.Key).ToArray());

    public Task<float[][]> FirstFaces(long[] subjects)
    {
        float[][] firsts = [];
        Guarded(() => firsts = SubjectSearch.FirstFaces(_index!, _rowsOfSubject, subjects, _store!));
        return Task.FromResult(firsts);
    }

    public Task<double[]> NearestOthers(float[][] queries, long[] ownSubjects)
    {
        var d = new double[queries.Length];
        Array.Fill(d, double.PositiveInfinity);
        if (_index is not { Count: > 0 } index) return Task.FromResult(d);
        Guarded(() => d = SubjectSearch.NearestOthers(index, _subjectOfRow, queries, ownSubjects,
            [.. ownSubjects.Select(s => _rowsOfSubject.GetValueOrDefault(s)?.Count ?? 0)], _store));
        return Task.FromResult(d);
    }

    public Task<ShardStatus> Status()
        => Task.FromResult(new ShardStatus(Shard, silo.SiloAddress.Endpoint.ToString(), _names.Count, _index?.Count ?? 0, Environment.WorkingSet)
        {
            Graph = _graph, SavedAt = _savedAt, Tenant = Tenant,
        });

    private bool _dropped;

    public Task Drop()
    {
        _dropped = true;
        local.Forget(Tenant);
        if (settings.GraphDirectory is { } dir && _gallery.ConnectionString is { } at)
            ShardGraphs.DeleteFolder(dir, at, GalleryTenants.SchemaOf(Tenant));
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task Handoff()
    {
        MigrateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        local.Remove(Tenant, Shard);
        if (_dropped) { Dispose(); return Task.CompletedTask; }
        // handed over or stopping: what was applied since the last save is saved, so the next owner catches up less
        if (_sinceSave > 0 && _index is { IsApproximate: true })
        {
            try { Save(erasure: false); }
            catch (Exception e) when (e is FaceNetException or IOException) { } // the next owner catches up from an older graph, or builds
        }
        Dispose(); // the vectors leave this silo's memory with the activation
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _index?.Dispose();
        _index = null;
        _store?.Dispose();
        _store = null;
    }
}
