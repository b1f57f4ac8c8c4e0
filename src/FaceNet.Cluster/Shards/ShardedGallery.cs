using FaceNet.Gallery;
using FaceNet.Matching;
using FaceNet.Models;
using Orleans;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// A gallery cut into shards over the cluster's silos. An identification asks every shard at once and merges
/// their best subjects; since a subject's faces all live in one shard, the merged list is the one a
/// single-process gallery gives, and the open-set rule is chosen once, for the whole gallery (its faces,
/// and its own people sampled over every shard). Writes commit to the store, then the owning shard applies
/// them, before they return. This process holds no faces of its own.
/// </summary>
public sealed class ShardedGallery(IGrainFactory grains, IGalleryStore store, int shards, string tenant = GalleryTenants.Default) : IGallery, IDisposable
{
    /// <summary>The tenant whose gallery this is (each tenant's shards are grains of their own).</summary>
    public string Tenant { get; } = tenant;

    public int Shards { get; } = shards;

    /// <summary>The cluster this gallery's shards live in.</summary>
    public IGrainFactory Grains { get; } = grains;

    public IGalleryStore Store { get; } = store;

    private IGalleryShard Shard(int k) => ShardGrains.Get(Grains, Tenant, k);

    private Task<T[]> All<T>(Func<IGalleryShard, Task<T>> ask) => Task.WhenAll(Enumerable.Range(0, Shards).Select(k => ask(Shard(k))));

    /// <summary>The shard a subject belongs to: its id modulo the shard count.</summary>
    public int ShardOf(long subjectId) => (int)(subjectId % Shards);

    public async Task<Identification> IdentifyAsync(float[] embedding, ModelInfo model, IdentifyOptions options, CancellationToken ct = default)
    {
        // the bands are known once the rule is (a given threshold has none); the model's are sent, and dropped below for a given one
        var bands = options.Threshold is null ? model.PoseThresholds : null;
        var parts = await All(s => s.Search(new ShardQuery(embedding, options.Top, options.Aggregation, options.Excluding).WithPose(bands, options.Yaw)))
            .ConfigureAwait(false);
        int faces = parts.Sum(p => p.Faces), subjects = parts.Sum(p => p.Subjects);
        // the impostor comparisons one search makes, as FaceGallery counts them
        long n = options.Aggregation == Aggregation.Min ? faces - parts.Sum(p => p.ExcludedFaces) : subjects - parts.Count(p => p.HasExcluded);
        var rule = OpenSetThreshold.For(model, Math.Max(1, n), options.Fpir, options.Threshold);
        if (options.UseGalleryPeople && rule.CanUseGallery(subjects)) rule = rule.WithGallery(await NearestSubjectsAsync(subjects).ConfigureAwait(false));
        return Merge(parts, embedding, rule.Threshold, options.Top, options.Aggregation, bands, options.Yaw) with { Rule = rule, Subjects = subjects };
    }

    /// <summary>The best <paramref name="top"/> subjects, and the open-set verdict at a fixed threshold (as <see cref="FaceGallery.Identify(float[], double, int, Aggregation)"/>).</summary>
    public async Task<Identification> IdentifyAsync(float[] embedding, double threshold, int top = 1)
        => Merge(await All(s => s.Search(new ShardQuery(embedding, top, Aggregation.Min, null))).ConfigureAwait(false), embedding, threshold, top, Aggregation.Min);

    // The shards' best merged, ranked as FaceGallery ranks them: by distance less the pose-band offset (how far inside its own
    // threshold each lies). Compact shards give their best by the int8 codes: the best of those over all shards are re-ranked
    // from the float vectors in the store (one query) and merged with the exact shards' hits, so every distance is the exact one.
    private Identification Merge(ShardAnswer[] parts, float[] embedding, double threshold, int top, Aggregation aggregation,
        Matching.PoseThresholds? bands = null, double? yaw = null)
    {
        static Candidate Of(ShardHit h) => new(h.Name, h.Distance) { SubjectId = h.SubjectId, Offset = h.Offset };
        var exact = parts.Where(p => !p.Approximate).SelectMany(p => p.Hits).Select(Of);
        var approximate = parts.Where(p => p.Approximate).SelectMany(p => p.Hits).OrderBy(h => h.Distance - h.Offset).ThenBy(h => h.SubjectId)
            .Take(SubjectSearch.RerankCount(top, aggregation)).Select(Of).ToList();
        var reranked = approximate.Count == 0 ? []
            : SubjectSearch.Rerank(Store, Store.Model.Metric, embedding, approximate, approximate.Count, aggregation, SubjectSearch.Offsets(bands, yaw));
        return SubjectSearch.Answer(exact.Concat(reranked).OrderBy(c => c.Distance - c.Offset).ThenBy(c => c.SubjectId).Take(Math.Max(1, top)).ToList(), threshold);
    }

    private sealed record NearestSample(int Subjects, double[] Distances);
    private volatile NearestSample? _nearest;
    private readonly SemaphoreSlim _measuring = new(1, 1);

    // The gallery's own people, drawn as FaceGallery draws them (the same subjects, the same distances):
    // each sampled subject's first face against every shard's other subjects, in batches that keep each call
    // short. Measured once before the first search that needs it; when the subjects have changed by a
    // twentieth, measured again in the background while searches go on with the last one (at a million faces
    // a measurement is 2,000 searches of the whole gallery).
    private async Task<double[]> NearestSubjectsAsync(int subjects)
    {
        bool Fresh(NearestSample? s) => s is not null && Math.Abs(s.Subjects - subjects) * 20 <= s.Subjects;
        if (_nearest is { } cached)
        {
            if (!Fresh(cached) && _measuring.Wait(0)) _ = Task.Run(async () => { try { await MeasureAsync(subjects); } finally { _measuring.Release(); } });
            return cached.Distances;
        }
        await _measuring.WaitAsync().ConfigureAwait(false);
        try { return _nearest?.Distances ?? await MeasureAsync(subjects).ConfigureAwait(false); }
        finally { _measuring.Release(); }
    }

    private async Task<double[]> MeasureAsync(int subjects)
    {
        var sample = SubjectSearch.Sample((await All(s => s.SubjectIds()).ConfigureAwait(false)).SelectMany(x => x).Order().ToList());
        var byShard = sample.GroupBy(ShardOf).ToList();
        var firsts = await Task.WhenAll(byShard.Select(g => Shard(g.Key).FirstFaces([.. g]))).ConfigureAwait(false);
        long[] owners = [.. byShard.SelectMany(g => g)];
        float[][] queries = [.. firsts.SelectMany(f => f)];
        var d = new double[queries.Length];
        const int Batch = 64;
        for (int from = 0; from < queries.Length; from += Batch)
        {
            int n = Math.Min(Batch, queries.Length - from);
            var nearest = await All(s => s.NearestOthers(queries[from..(from + n)], owners[from..(from + n)])).ConfigureAwait(false);
            for (int i = 0; i < n; i++) d[from + i] = nearest.Min(x => x[i]);
        }
        Array.Sort(d);
        _nearest = new NearestSample(subjects, d);
        return d;
    }

    /// <summary>Enrols through the store (committed first), then has the owning shard apply it before returning.</summary>
    public async Task<Enrollment> AddFacesAsync(string name, IReadOnlyList<NewFace> faces, string? metadata = null, CancellationToken ct = default)
    {
        var done = Store.Enroll(name, faces, metadata);
        await AppliedAsync(done.SubjectId, ct).ConfigureAwait(false);
        return done;
    }

    /// <summary>Erases through the store, then from the owning shard's memory, before returning.</summary>
    public async Task<bool> RemoveAsync(string name, CancellationToken ct = default)
    {
        if (Store.RemoveSubject(name) is not { } id) return false;
        await AppliedAsync(id, ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>Renames through the store, then in the owning shard, before returning.</summary>
    public async Task<bool> RenameAsync(string oldName, string newName)
    {
        if (Store.RenameSubject(oldName, newName) is not { } id) return false;
        await AppliedAsync(id).ConfigureAwait(false);
        return true;
    }

    /// <summary>How long a committed write waits for its shard when the silo that held it is gone.</summary>
    private static readonly TimeSpan ApplyPatience = TimeSpan.FromSeconds(25);

    // A write is committed in the store before this: failing it now would tell the client "not done" about a
    // change that is kept (a killed silo's shard answers nothing until the cluster evicts it, a few seconds,
    // and then comes back on another silo from the store). So the owning shard is asked again until it has
    // applied the change, within the request's time; only then is the write answered.
    private async Task AppliedAsync(long subjectId, CancellationToken ct = default)
    {
        var until = DateTime.UtcNow + ApplyPatience;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await Shard(ShardOf(subjectId)).CatchUp().ConfigureAwait(false);
                return;
            }
            // only a silo that is gone (Orleans' own exceptions): a shard that answers that its database is away is answered as such (503)
            catch (Exception e) when (IsOrleans(e) && DateTime.UtcNow < until && !ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Min(attempt, 5))), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A silo that is gone or a call that timed out: Orleans' own exceptions, or one it could not carry back as it was.</summary>
    public static bool IsUnreachable(Exception e) => e is TimeoutException or ShardUnavailableException || IsOrleans(e);

    private static bool IsOrleans(Exception e) => e.GetType().Namespace?.StartsWith("Orleans", StringComparison.Ordinal) ?? false;

    /// <summary>Subjects and faces over all shards.</summary>
    public async Task<(int Subjects, int Faces)> SizeAsync(CancellationToken ct = default)
    {
        var sizes = await All(s => s.Size()).ConfigureAwait(false);
        return (sizes.Sum(s => s.Subjects), sizes.Sum(s => s.Faces));
    }

    public void Dispose()
    {
        Store.Dispose();
        _measuring.Dispose();
    }
}
