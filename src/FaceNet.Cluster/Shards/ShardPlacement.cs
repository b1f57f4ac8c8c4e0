using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace FaceNet.Cluster.Shards;

/// <summary>
/// Where a shard lives: on the active silo that ranks highest for it by rendezvous hashing (shard × silo
/// endpoint). Every silo computes the same owner from the same membership; a silo that leaves moves only
/// its own shards, a silo that joins takes about 1/N of them, and a silo restarted on its address gets
/// its shards back.
/// </summary>
public static class ShardPlacement
{
    /// <summary>The silo among <paramref name="silos"/> that owns the shard.</summary>
    public static SiloAddress Owner(long shard, IReadOnlyList<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new InvalidOperationException("no silo is active to place a shard on");
        return silos.MaxBy(s => Score(shard, s.Endpoint.ToString()))!;
    }

    // a hash of the shard and the endpoint, the same in every process and run (placement is rare: the cost does not matter)
    private static ulong Score(long shard, string endpoint)
        => BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{shard}@{endpoint}")));
}

/// <summary>Shard grains are placed by <see cref="ShardPlacement"/>.</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class ShardPlacementStrategy : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class)]
internal sealed class ShardPlacementAttribute() : PlacementAttribute(new ShardPlacementStrategy());

internal sealed class ShardPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
        => Task.FromResult(ShardPlacement.Owner(target.GrainIdentity.GetIntegerKey(), context.GetCompatibleSilos(target)));
}

/// <summary>
/// When the membership changes, each shard of this silo that another silo now owns is handed over: it
/// leaves (its memory freed) and is activated on its owner at once, loading from PostgreSQL there; and the
/// shards this silo now owns are loaded (at start; a dead silo's, as soon as it is declared dead). A silo
/// that joins takes its shards; the answers do not change, since every shard reads the same store.
/// </summary>
internal sealed class ShardRebalancer(IClusterMembershipService membership, ILocalSiloDetails self, LocalShards local, IGrainFactory grains,
    ShardSettings settings, ILogger<ShardRebalancer> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
                if (!active.Contains(self.SiloAddress)) continue;
                foreach (var shard in local.Keys)
                {
                    if (ShardPlacement.Owner(shard, active).Equals(self.SiloAddress)) continue;
                    try
                    {
                        // Orleans moves the activation (its directory entry with it); the placement above picks the owner, which loads from PostgreSQL
                        await grains.GetGrain<IGalleryShard>(shard).Handoff();
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogWarning("shard {Shard}: handing over failed ({Problem}); its next call places it", shard, e.Message);
                    }
                }
                // and the shards this silo owns now are loaded at once (at start, and those of a silo that died), not at the first search
                var mine = local.Keys.ToHashSet();
                var owned = Enumerable.Range(0, settings.Shards).Where(k => !mine.Contains(k) && ShardPlacement.Owner(k, active).Equals(self.SiloAddress)).ToList();
                await Parallel.ForEachAsync(owned,
                    new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = stoppingToken }, async (k, _) =>
                    {
                        try { await grains.GetGrain<IGalleryShard>(k).Size(); }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            log.LogWarning("shard {Shard}: loading failed ({Problem}); its next call loads it", k, e.Message);
                        }
                    });
                // what loading left behind (rows read, vectors decoded: as much again as the shards keep) goes back to the system now
                if (owned.Count > 0) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
