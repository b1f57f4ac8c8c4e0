using FaceNet.Gallery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// Writes that do not pass through a front end of the cluster (<c>facenet enroll -g</c>, <c>subjects purge</c>,
/// another program): PostgreSQL announces each commit, and the silo has its own shards catch up. Checked
/// every second as well, in case an announcement was missed while the database was away.
/// </summary>
internal sealed class ShardFollower(ShardSettings settings, LocalShards local, IGrainFactory grains, ILogger<ShardFollower> log) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // each tenant's store that this silo holds shards of, and the last change seen in it; the default one wakes at each commit
        var stores = new Dictionary<string, (PostgresGalleryStore Store, long Seen)>(StringComparer.Ordinal);
        // the last change seen per tenant, kept while the database is away (what was committed meanwhile is caught up after)
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var mine = local.Keys;
                    foreach (var tenant in mine.Select(k => k.Tenant).Append(GalleryTenants.Default).Distinct())
                    {
                        if (!stores.TryGetValue(tenant, out var s))
                        {
                            var store = PostgresGalleryStore.Open(local.Gallery(tenant).ConnectionString, null, readOnly: true, key: settings.Key, create: false);
                            // first time: shards loaded since have what came before
                            s = (store, seen.TryGetValue(tenant, out var was) ? was : store.LastSequence());
                        }
                        // only the shards of this silo that a change touched (a write through a front end has had its shard catch up already);
                        // looked at before waiting, so that what was committed while the database was away is not left for the next commit
                        var (last, subjects) = s.Store.ChangedSince(s.Seen);
                        int shards = local.Gallery(tenant).Shards;
                        foreach (var shard in subjects.Select(x => (int)(x % shards)).Distinct().Where(k => mine.Contains((tenant, k))))
                            await ShardGrains.Get(grains, tenant, shard).CatchUp();
                        stores[tenant] = (s.Store, last);
                        seen[tenant] = last;
                    }
                    foreach (var gone in stores.Keys.Where(t => t != GalleryTenants.Default && !mine.Any(k => k.Tenant == t)).ToList())
                    {
                        stores[gone].Store.Dispose();
                        stores.Remove(gone);
                        seen.Remove(gone);
                    }
                    await stores[GalleryTenants.Default].Store.WaitForChangesAsync(Poll, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogWarning("following the gallery: {Problem}", e.Message);
                    foreach (var s in stores.Values) s.Store.Dispose();
                    stores.Clear();
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            foreach (var s in stores.Values) s.Store.Dispose();
        }
    }
}
