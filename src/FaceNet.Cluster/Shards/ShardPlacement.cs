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

    // FNV-1a over the shard and the endpoint, then a 64-bit mix: stable across processes and runs
    private static ulong Score(long shard, string endpoint)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in BitConverter.GetBytes(shard)) h = (h ^ b) * 1099511628211UL;
        foreach (var c in endpoint) h = (h ^ c) * 1099511628211UL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        return h;
    }
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
/// leaves (its memory freed) and is activated on its owner at once, loading from PostgreSQL there. A silo
/// that joins takes its shards; the answers do not change, since every shard reads the same store.
/// </summary>
internal sealed class ShardRebalancer(IClusterMembershipService membership, ILocalSiloDetails self, LocalShards local, IGrainFactory grains,
    ILogger<ShardRebalancer> log) : BackgroundService
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
                        var grain = grains.GetGrain<IGalleryShard>(shard);
                        await grain.Handoff();
                        // give the deactivation its turn, then activate it where it belongs
                        await Task.Delay(50, stoppingToken);
                        await grain.Size();
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogWarning("shard {Shard}: handing over failed ({Problem}); its next call places it", shard, e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
