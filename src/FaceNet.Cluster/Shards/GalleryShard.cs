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
    [property: Id(3)] int ExcludedFaces, [property: Id(4)] bool HasExcluded);

/// <summary>
/// One shard of a gallery, a grain that Orleans places on some silo: the subjects whose id falls in it
/// (id modulo the shard count), loaded from PostgreSQL when it activates, searched in memory.
/// </summary>
[Alias("FaceNet.IGalleryShard")]
public interface IGalleryShard : IGrainWithIntegerKey
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
}

/// <summary>A shard as it is now: the silo that holds it, its subjects and faces, and that silo's process memory (resident bytes).</summary>
[GenerateSerializer, Immutable]
public sealed record ShardStatus([property: Id(0)] int Shard, [property: Id(1)] string Silo, [property: Id(2)] int Subjects, [property: Id(3)] int Faces,
    [property: Id(4)] long SiloMemoryBytes);

/// <summary>Where the shards' gallery is, how many shards it is cut into (fixed when the gallery is made), its master key when encrypted.</summary>
public sealed record ShardSettings(string ConnectionString, int Shards, MasterKey? Key = null);

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

/// <summary>The shards active on this silo, which its follower and rebalancer act on; and the gate that loads two at a time.</summary>
internal sealed class LocalShards
{
    /// <summary>Shards reading from PostgreSQL at once on this silo: more only thrash the database and the cores.</summary>
    public SemaphoreSlim Loading { get; } = new(2, 2);

    private readonly ConcurrentDictionary<int, byte> _keys = new();
    public void Add(int shard) => _keys[shard] = 0;
    public void Remove(int shard) => _keys.TryRemove(shard, out _);
    public IReadOnlyList<int> Keys => [.. _keys.Keys.Order()];
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

    private int Shard => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // not cancelled with the activation's token (Orleans gives an activation 30 s): a shard waiting its turn to load still loads
        await local.Loading.WaitAsync(CancellationToken.None);
        // off Orleans' scheduler threads: a large shard reads for seconds, and those threads also answer the silo's liveness probes
        try { await Task.Run(() => Guarded(Load), CancellationToken.None); }
        finally { local.Loading.Release(); }
        local.Add(Shard);
    }

    private void Guarded(Action work)
    {
        try { work(); }
        catch (FaceNetException e) { throw new ShardUnavailableException($"shard {Shard}: {e.Message}"); }
    }

    private void Load()
    {
        var store = _store ??= PostgresGalleryStore.Open(settings.ConnectionString, null, readOnly: true, key: settings.Key);
        var snapshot = store.ShardSnapshot(Shard, settings.Shards);
        _index?.Dispose();
        _names.Clear();
        _ids.Clear();
        _subjectOfRow.Clear();
        _yawOfRow.Clear();
        _rowsOfSubject.Clear();
        foreach (var s in snapshot.Subjects) Name(s.Id, s.Name);
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric);
        Add(snapshot.Faces.Select(f => (f.SubjectId, f.Embedding, f.Yaw)).ToList());
        _sequence = snapshot.Sequence;
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
        while (true)
        {
            var changes = _store!.ChangesSince(_sequence, Shard, settings.Shards);
            if (changes is null) // the feed no longer reaches back: read the shard again
            {
                Load();
                return;
            }
            if (changes.Count == 0) return;
            foreach (var c in changes)
            {
                _sequence = c.Sequence;
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
        var hits = SubjectSearch.Best(index, _subjectOfRow, _rowsOfSubject, _names, q.Embedding, q.Top, q.Aggregation, left,
                SubjectSearch.Offsets(q.Bands, q.Yaw, _yawOfRow))
            .Select(c => new ShardHit(c.Name, c.Distance, c.SubjectId!.Value) { Offset = c.Offset }).ToArray();
        return Task.FromResult(new ShardAnswer(hits, index.Count, _names.Count, own, left >= 0));
    }

    public Task<(int Subjects, int Faces)> Size() => Task.FromResult((_names.Count, _index?.Count ?? 0));

    public Task<long[]> SubjectIds()
        => Task.FromResult(_rowsOfSubject.Where(p => p.Value.Count > 0 && _names.ContainsKey(p.Key)).Select(p => p.Key).ToArray());

    public Task<float[][]> FirstFaces(long[] subjects) => Task.FromResult(subjects.Select(s => _index!.Vector(_rowsOfSubject[s][0])).ToArray());

    public Task<double[]> NearestOthers(float[][] queries, long[] ownSubjects)
    {
        var d = new double[queries.Length];
        Array.Fill(d, double.PositiveInfinity);
        if (_index is not { Count: > 0 } index) return Task.FromResult(d);
        Parallel.For(0, queries.Length, i => d[i] = SubjectSearch.NearestOther(index, _subjectOfRow, queries[i], ownSubjects[i],
            _rowsOfSubject.GetValueOrDefault(ownSubjects[i])?.Count ?? 0));
        return Task.FromResult(d);
    }

    public Task<ShardStatus> Status()
        => Task.FromResult(new ShardStatus(Shard, silo.SiloAddress.Endpoint.ToString(), _names.Count, _index?.Count ?? 0, Environment.WorkingSet));

    public Task Handoff()
    {
        MigrateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        local.Remove(Shard);
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
