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
        PostgresGalleryStore? store = null;
        long seen = -1;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (store is null)
                    {
                        store = PostgresGalleryStore.Open(settings.ConnectionString, null, readOnly: true, key: settings.Key);
                        // this silo's graph files that the database's copies have superseded go first (a shard erased faces elsewhere since)
                        if (settings.GraphDirectory is { } dir) ShardGraphs.Prune(dir, settings.ConnectionString, store);
                    }
                    if (seen < 0) seen = store.LastSequence(); // shards loaded since have what came before
                    // only the shards of this silo that a change touched (a write through a front end has had its shard catch up already);
                    // looked at before waiting, so that what was committed while the database was away is not left for the next commit
                    var (last, subjects) = store.ChangedSince(seen);
                    var mine = local.Keys.ToHashSet();
                    foreach (var shard in subjects.Select(s => (int)(s % settings.Shards)).Distinct().Where(mine.Contains))
                        await grains.GetGrain<IGalleryShard>(shard).CatchUp();
                    seen = last;
                    await store.WaitForChangesAsync(Poll, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogWarning("following the gallery: {Problem}", e.Message);
                    store?.Dispose();
                    store = null;
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally { store?.Dispose(); }
    }
}
