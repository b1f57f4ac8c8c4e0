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
}

/// <summary>Where the shards' gallery is, and how many shards it is cut into (fixed when the gallery is made).</summary>
public sealed record ShardSettings(string ConnectionString, int Shards);

internal sealed class GalleryShardGrain(ShardSettings settings) : Grain, IGalleryShard, IDisposable
{
    private FaceIndex? _index;
    private long[] _subjectOfRow = [];
    private readonly Dictionary<long, string> _names = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        using var store = PostgresGalleryStore.Open(settings.ConnectionString, null, readOnly: true);
        var snapshot = store.ShardSnapshot((int)this.GetPrimaryKeyLong(), settings.Shards);
        foreach (var s in snapshot.Subjects) _names[s.Id] = s.Name;
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, new FaceIndexOptions { ApproximateFrom = int.MaxValue });
        _index.Add(snapshot.Faces.Select(f => f.Embedding).ToList());
        _subjectOfRow = [.. snapshot.Faces.Select(f => f.SubjectId)];
        return Task.CompletedTask;
    }

    public Task<ShardHit[]> Search(float[] query, int top)
    {
        if (_index is not { Count: > 0 } index) return Task.FromResult<ShardHit[]>([]);
        // as the single-process gallery does: the nearest faces, then the best face of each subject among them
        var near = index.Search(query, Math.Min(index.Count, Math.Max(32, top * 8)));
        var hits = near.GroupBy(n => _subjectOfRow[n.Index])
            .Select(g => new ShardHit(_names[g.Key], g.Min(n => n.Distance)))
            .OrderBy(h => h.Distance).Take(Math.Max(1, top)).ToArray();
        return Task.FromResult(hits);
    }

    public Task<(int Subjects, int Faces)> Size() => Task.FromResult((_names.Count, _index?.Count ?? 0));

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _index?.Dispose(); // the vectors leave this silo's memory with the activation
        _index = null;
        return Task.CompletedTask;
    }

    public void Dispose() => _index?.Dispose();
}
