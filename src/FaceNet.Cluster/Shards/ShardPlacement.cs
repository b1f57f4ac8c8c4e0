using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
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
    public static SiloAddress Owner(long shard, IReadOnlyList<SiloAddress> silos) => Owner(shard, Gallery.GalleryTenants.Default, silos);

    /// <summary>The silo among <paramref name="silos"/> that owns a tenant's shard (the default tenant's as before tenants had shards).</summary>
    public static SiloAddress Owner(long shard, string tenant, IReadOnlyList<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new InvalidOperationException("no silo is active to place a shard on");
        var name = tenant == Gallery.GalleryTenants.Default ? $"{shard}" : $"{tenant}/{shard}";
        return silos.MaxBy(s => Score(name, s.Endpoint.ToString()))!;
    }

    // a hash of the shard and the endpoint, the same in every process and run (placement is rare: the cost does not matter)
    private static ulong Score(string shard, string endpoint)
        => BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{shard}@{endpoint}")));
}

[AttributeUsage(AttributeTargets.Class)]
internal sealed class ShardPlacementAttribute() : PlacementAttribute(new ShardPlacementStrategy());

internal sealed class ShardPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        long shard = target.GrainIdentity.GetIntegerKey(out var tenant);
        return Task.FromResult(ShardPlacement.Owner(shard, tenant is { Length: > 0 } ? tenant : Gallery.GalleryTenants.Default, context.GetCompatibleSilos(target)));
    }
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
                foreach (var (tenant, shard) in local.Keys)
                {
                    if (ShardPlacement.Owner(shard, tenant, active).Equals(self.SiloAddress)) continue;
                    try
                    {
                        // Orleans moves the activation (its directory entry with it); the placement above picks the owner, which loads from PostgreSQL
                        await ShardGrains.Get(grains, tenant, shard).Handoff();
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogWarning("shard {Shard}: handing over failed ({Problem}); its next call places it", shard, e.Message);
                    }
                }
                // and the shards this silo owns now are loaded at once (at start, and those of a silo that died), not at the first search
                // every tenant's shards (a tenant's gallery that cannot be listed now is loaded at its first call)
                var mine = local.Keys.ToHashSet();
                var owned = new List<(string Tenant, int Shard)>();
                IReadOnlyList<string> tenants = [Gallery.GalleryTenants.Default];
                try { tenants = Gallery.GalleryTenants.List(settings.ConnectionString); }
                catch (Exception e) when (e is FaceNetException or Npgsql.NpgsqlException) { log.LogWarning("listing the tenants failed ({Problem})", e.Message); }
                foreach (var tenant in tenants)
                {
                    int count;
                    try { count = local.Gallery(tenant).Shards; }
                    catch (Exception e) when (e is FaceNetException or Npgsql.NpgsqlException) { continue; }
                    owned.AddRange(Enumerable.Range(0, count).Where(k => !mine.Contains((tenant, k)) && ShardPlacement.Owner(k, tenant, active).Equals(self.SiloAddress))
                        .Select(k => (tenant, k)));
                }
                await Parallel.ForEachAsync(owned,
                    new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = stoppingToken }, async (k, _) =>
                    {
                        try { await ShardGrains.Get(grains, k.Tenant, k.Shard).Size(); }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            log.LogWarning("shard {Shard} of {Tenant}: loading failed ({Problem}); its next call loads it", k.Shard, k.Tenant, e.Message);
                        }
                    });
                // what loading left behind (rows read, vectors decoded: as much again as the shards keep) goes back to the system now
                if (owned.Count > 0) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
