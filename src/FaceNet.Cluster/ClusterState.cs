using FaceNet.Cluster.Shards;

namespace FaceNet.Cluster;

/// <summary>The cluster as its members see it now: every silo of the membership, and where each shard is.</summary>
public sealed record ClusterState(IReadOnlyList<SiloState> Silos, IReadOnlyList<ShardStatus> Shards)
{
    /// <summary>Asks the membership and every shard (activating those that are not: the answer is where they are now).</summary>
    public static Task<ClusterState> ReadAsync(IGrainFactory grains, int shards) => ReadAsync(grains, [(Gallery.GalleryTenants.Default, shards)]);

    /// <summary>As <see cref="ReadAsync(IGrainFactory, int)"/>, over every tenant's shards.</summary>
    public static async Task<ClusterState> ReadAsync(IGrainFactory grains, IReadOnlyList<(string Tenant, int Shards)> galleries)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false).ConfigureAwait(false);
        var placed = await Task.WhenAll(galleries.SelectMany(g => Enumerable.Range(0, g.Shards).Select(k => ShardGrains.Get(grains, g.Tenant, k).Status())))
            .ConfigureAwait(false);
        var silos = hosts.Where(h => h.Value is SiloStatus.Active or SiloStatus.Joining or SiloStatus.ShuttingDown or SiloStatus.Stopping)
            .Select(h =>
            {
                var address = h.Key.Endpoint.ToString();
                var mine = placed.Where(p => p.Silo == address).ToList();
                // (a silo's shard numbers: the default tenant's; the others' are listed per shard)
                return new SiloState(address, h.Value.ToString().ToLowerInvariant(), mine.Where(p => p.Tenant == Gallery.GalleryTenants.Default).Select(p => p.Shard).ToList(), mine.Sum(p => p.Subjects),
                    mine.Sum(p => p.Faces), mine.Count > 0 ? mine.Max(p => p.SiloMemoryBytes) : 0);
            })
            .OrderBy(s => s.Address, StringComparer.Ordinal).ToList();
        return new ClusterState(silos, placed);
    }
}
