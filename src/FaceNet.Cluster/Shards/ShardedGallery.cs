using FaceNet.Gallery;
using Orleans;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// A gallery cut into shards over the cluster's silos. An identification asks every shard at once and merges
/// their best subjects; since a subject's faces all live in one shard, the merged list is the one a
/// single-process gallery with exact search gives, and the threshold is applied once, to it.
/// </summary>
public sealed class ShardedGallery(IGrainFactory grains, int shards)
{
    public int Shards { get; } = shards;

    public async Task<Identification> IdentifyAsync(float[] embedding, double threshold, int top = 1)
    {
        var parts = await Task.WhenAll(Enumerable.Range(0, Shards).Select(k => grains.GetGrain<IGalleryShard>(k).Search(embedding, top))).ConfigureAwait(false);
        var best = parts.SelectMany(p => p).OrderBy(h => h.Distance).Take(Math.Max(1, top)).Select(h => new Candidate(h.Name, h.Distance)).ToList();
        if (best.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
        bool known = best[0].Distance <= threshold;
        return new Identification(known ? best[0].Name : null, known, best[0].Distance, threshold, best);
    }

    /// <summary>The shard a subject belongs to: its id modulo the shard count.</summary>
    public int ShardOf(long subjectId) => (int)(subjectId % Shards);

    /// <summary>Enrols through the store (committed first), then has the owning shard apply it before returning.</summary>
    public async Task<Enrollment> EnrollAsync(IGalleryStore store, string name, IReadOnlyList<NewFace> faces)
    {
        var done = store.Enroll(name, faces);
        await grains.GetGrain<IGalleryShard>(ShardOf(done.SubjectId)).CatchUp().ConfigureAwait(false);
        return done;
    }

    /// <summary>Erases through the store, then from the owning shard's memory, before returning.</summary>
    public async Task<bool> RemoveAsync(IGalleryStore store, string name)
    {
        if (store.RemoveSubject(name) is not { } id) return false;
        await grains.GetGrain<IGalleryShard>(ShardOf(id)).CatchUp().ConfigureAwait(false);
        return true;
    }

    /// <summary>Subjects and faces over all shards.</summary>
    public async Task<(int Subjects, int Faces)> SizeAsync()
    {
        var sizes = await Task.WhenAll(Enumerable.Range(0, Shards).Select(k => grains.GetGrain<IGalleryShard>(k).Size())).ConfigureAwait(false);
        return (sizes.Sum(s => s.Subjects), sizes.Sum(s => s.Faces));
    }
}
