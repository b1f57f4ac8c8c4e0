using System.Collections.Concurrent;
using FaceNet.Gallery;
using FaceNet.Gallery.Protection;
using Orleans;
using Orleans.Runtime;

namespace FaceNet.Cluster.Shards;

/// <summary>A subject's distance as one shard found it (its nearest face, or the mean of its faces).</summary>
[GenerateSerializer, Immutable]
public sealed record ShardHit([property: Id(0)] string Name, [property: Id(1)] double Distance, [property: Id(2)] long SubjectId)
{
    /// <summary>The pose-band offset of the face (or mean of faces) the distance is from (see <see cref="ShardQuery.Yaw"/>).</summary>
    [Id(3)] public double Offset { get; init; }
}

/// <summary>One search of one shard.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardQuery([property: Id(0)] float[] Embedding, [property: Id(1)] int Top, [property: Id(2)] Aggregation Aggregation,
    [property: Id(3)] string? Excluding)
{
    /// <summary>The searching face's yaw (degrees), for the pose-aware rule; null: every candidate in the first band.</summary>
    [Id(4)] public double? Yaw { get; init; }

    /// <summary>The model's pose bands: where each starts (degrees of yaw difference) and its threshold; null: no bands.</summary>
    [Id(5)] public double[]? BandFrom { get; init; }
    [Id(6)] public double[]? BandThreshold { get; init; }

    /// <summary>A query carrying <paramref name="bands"/> and the searching face's <paramref name="yaw"/>.</summary>
    public ShardQuery WithPose(Matching.PoseThresholds? bands, double? yaw) => bands is null ? this : this with
    {
        Yaw = yaw, BandFrom = bands.Bands.Select(b => b.From).ToArray(), BandThreshold = bands.Bands.Select(b => b.Threshold).ToArray(),
    };

    internal Matching.PoseThresholds? Bands => BandFrom is { Length: > 0 } from && BandThreshold is { } t && t.Length == from.Length
        ? new Matching.PoseThresholds(from.Select((f, i) => new Matching.PoseBand(f, t[i], null, 0)).ToList(), "") : null;
}

/// <summary>
/// A shard's best subjects, and what the open-set rule needs to count: the shard's faces and subjects, and
/// the faces of the subject left out (when it is this shard's).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardAnswer([property: Id(0)] ShardHit[] Hits, [property: Id(1)] int Faces, [property: Id(2)] int Subjects,
    [property: Id(3)] int ExcludedFaces, [property: Id(4)] bool HasExcluded)
{
    /// <summary>
    /// The hits' distances are those of the shard's int8 codes (a compact shard): its best subjects by them, more than
    /// asked for, which the caller re-ranks from the store's float vectors with the other shards' (one query for all).
    /// </summary>
    [Id(5)] public bool Approximate { get; init; }
}

/// <summary>
/// One shard of a gallery, a grain that Orleans places on some silo: the subjects whose id falls in it
/// (id modulo the shard count), loaded from PostgreSQL when it activates, searched in memory.
/// </summary>
[Alias("FaceNet.IGalleryShard")]
public interface IGalleryShard : IGrainWithIntegerCompoundKey
{
    /// <summary>This shard's best subjects for a query (each at its nearest face, or its mean).</summary>
    [Alias("Search")]
    Task<ShardAnswer> Search(ShardQuery query);

    /// <summary>Subjects and faces this shard holds.</summary>
    [Alias("Size")]
    Task<(int Subjects, int Faces)> Size();

    /// <summary>The ids of this shard's subjects that have faces (the sample of the gallery's own people is drawn from all of them).</summary>
    [Alias("SubjectIds")]
    Task<long[]> SubjectIds();

    /// <summary>The first face of each of these subjects of the shard.</summary>
    [Alias("FirstFaces")]
    Task<float[][]> FirstFaces(long[] subjects);

    /// <summary>For each query, the distance of the nearest face in this shard of a subject other than the query's own.</summary>
    [Alias("NearestOthers")]
    Task<double[]> NearestOthers(float[][] queries, long[] ownSubjects);

    /// <summary>
    /// Applies the store's committed changes since the shard's last (enrolments of its subjects, renames,
    /// erasures): called after a write is committed, before it is acknowledged, so an erased face has left
    /// the shard's memory by then; and by each silo when the store announces a change.
    /// </summary>
    [Alias("CatchUp")]
    Task CatchUp();

    /// <summary>Where the shard is now and what it holds.</summary>
    [Alias("Status")]
    Task<ShardStatus> Status();

    /// <summary>Moves to its owner in the current membership (this silo's memory freed; the owner loads the shard from PostgreSQL).</summary>
    [Alias("Handoff")]
    Task Handoff();

    /// <summary>Its tenant was removed: the shard leaves memory, and this silo's graph file of it is deleted (the database's went with the schema).</summary>
    [Alias("Drop")]
    Task Drop();
}

/// <summary>How a tenant's shard grain is named: the shard's number, and the tenant as the key's extension.</summary>
public static class ShardGrains
{
    public static IGalleryShard Get(IGrainFactory grains, string tenant, int shard) => grains.GetGrain<IGalleryShard>(shard, tenant);
}

/// <summary>A shard as it is now: the silo that holds it, its subjects and faces, and that silo's process memory (resident bytes).</summary>
[GenerateSerializer, Immutable]
public sealed record ShardStatus([property: Id(0)] int Shard, [property: Id(1)] string Silo, [property: Id(2)] int Subjects, [property: Id(3)] int Faces,
    [property: Id(4)] long SiloMemoryBytes)
{
    /// <summary>The tenant whose gallery the shard is of.</summary>
    [Id(7)] public string Tenant { get; init; } = GalleryTenants.Default;

    /// <summary>
    /// How the shard searches and where its graph came from: <c>exact</c> (float vectors, a scan), <c>built</c> (a graph built
    /// from the store's vectors), <c>disk</c> or <c>database</c> (a saved graph loaded, then caught up from the feed).
    /// </summary>
    [Id(5)] public string Graph { get; init; } = "exact";

    /// <summary>The feed position the shard's last saved graph covers (0: none saved).</summary>
    [Id(6)] public long SavedAt { get; init; }
}

/// <summary>Where the shards' gallery is, how many shards it is cut into (fixed when the gallery is made), its master key when encrypted.</summary>
public sealed record ShardSettings(string ConnectionString, int Shards, MasterKey? Key = null)
{
    /// <summary>
    /// Where this silo keeps its shards' graphs on its own disk (a folder per database and schema); null: in the database only.
    /// Every saved graph is also written to the gallery's database (table <c>shard_graphs</c>), which every silo reaches.
    /// </summary>
    public string? GraphDirectory { get; init; }

    /// <summary>Changes applied to a shard after which its graph is saved again (so a reload catches up a short feed, never a trimmed one).</summary>
    public int SaveEvery { get; init; } = 20_000;

    /// <summary>How each shard searches (default: compact, an int8 HNSW graph, from <see cref="FaceIndexOptions.ApproximateFrom"/> faces on).</summary>
    public FaceIndexOptions? Index { get; init; }
}

/// <summary>
/// A shard that cannot do what was asked now (its database is away, its rows cannot be read): what the store said,
/// in a form Orleans carries back to the caller (the store's own exceptions have no codec).
/// </summary>
[GenerateSerializer]
public sealed class ShardUnavailableException : Exception
{
    public ShardUnavailableException() { }

    public ShardUnavailableException(string message) : base(message) { }

    public ShardUnavailableException(string message, Exception inner) : base(message, inner) { }
}

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
