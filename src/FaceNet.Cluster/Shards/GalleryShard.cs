using FaceNet.Gallery;
using Orleans;

namespace FaceNet.Cluster.Shards;

/// <summary>A subject's nearest distance as one shard found it.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardHit([property: Id(0)] string Name, [property: Id(1)] double Distance);

/// <summary>
/// One shard of a gallery, a grain that Orleans places on some silo: the subjects whose id falls in it
/// (id modulo the shard count), loaded from PostgreSQL when it activates, searched exactly in memory.
/// </summary>
public interface IGalleryShard : IGrainWithIntegerKey
{
    /// <summary>This shard's best <paramref name="top"/> subjects for a query (each at its nearest face).</summary>
    Task<ShardHit[]> Search(float[] query, int top);

    /// <summary>Subjects and faces this shard holds.</summary>
    Task<(int Subjects, int Faces)> Size();

    /// <summary>
    /// Applies the store's committed changes since the shard's last (enrolments of its subjects, renames,
    /// erasures): called after a write is committed, before it is acknowledged, so an erased face has left
    /// the shard's memory by then.
    /// </summary>
    Task CatchUp();
}

/// <summary>Where the shards' gallery is, and how many shards it is cut into (fixed when the gallery is made).</summary>
public sealed record ShardSettings(string ConnectionString, int Shards);

internal sealed class GalleryShardGrain(ShardSettings settings) : Grain, IGalleryShard, IDisposable
{
    private FaceIndex? _index;
    // the store, opened once per activation (each catch-up reads the feed through it)
    private PostgresGalleryStore? _store;
    private readonly List<long> _subjectOfRow = [];   // −1 once erased
    private readonly Dictionary<long, string> _names = [];
    private long _sequence;

    private int Shard => (int)this.GetPrimaryKeyLong();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Load();
        return Task.CompletedTask;
    }

    private void Load()
    {
        var store = _store ??= PostgresGalleryStore.Open(settings.ConnectionString, null, readOnly: true);
        var snapshot = store.ShardSnapshot(Shard, settings.Shards);
        _index?.Dispose();
        _names.Clear();
        _subjectOfRow.Clear();
        foreach (var s in snapshot.Subjects) _names[s.Id] = s.Name;
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        _index.Add(snapshot.Faces.Select(f => f.Embedding).ToList());
        _subjectOfRow.AddRange(snapshot.Faces.Select(f => f.SubjectId));
        _sequence = snapshot.Sequence;
    }

    public Task CatchUp()
    {
        while (true)
        {
            var changes = _store!.ChangesSince(_sequence);
            if (changes is null) // the feed no longer reaches back: read the shard again
            {
                Load();
                return Task.CompletedTask;
            }
            if (changes.Count == 0) return Task.CompletedTask;
            foreach (var c in changes)
            {
                _sequence = c.Sequence;
                if (c.SubjectId % settings.Shards != Shard) continue;
                switch (c.Kind)
                {
                    case ChangeKind.Enrolled when c.Faces.Count > 0 && c.Name is { } name:
                        _names[c.SubjectId] = name;
                        _index!.Add(c.Faces.Select(f => f.Embedding).ToList());
                        _subjectOfRow.AddRange(c.Faces.Select(_ => c.SubjectId));
                        break;
                    case ChangeKind.Renamed when c.Name is { } newName:
                        _names[c.SubjectId] = newName;
                        break;
                    case ChangeKind.Removed:
                        var rows = Enumerable.Range(0, _subjectOfRow.Count).Where(i => _subjectOfRow[i] == c.SubjectId).ToList();
                        _index!.Remove(rows);
                        foreach (var i in rows) _subjectOfRow[i] = -1;
                        _names.Remove(c.SubjectId);
                        break;
                }
            }
        }
    }

    public Task<ShardHit[]> Search(float[] query, int top)
    {
        if (_index is not { Count: > 0 } index) return Task.FromResult<ShardHit[]>([]);
        // as the single-process gallery does: the nearest faces, then the best face of each subject among them
        var near = index.Search(query, Math.Min(index.Count, Math.Max(32, top * 8)));
        var hits = near.Where(n => _subjectOfRow[n.Index] >= 0).GroupBy(n => _subjectOfRow[n.Index])
            .Select(g => new ShardHit(_names[g.Key], g.Min(n => n.Distance)))
            .OrderBy(h => h.Distance).Take(Math.Max(1, top)).ToArray();
        return Task.FromResult(hits);
    }

    public Task<(int Subjects, int Faces)> Size() => Task.FromResult((_names.Count, _index?.Count ?? 0));

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
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
