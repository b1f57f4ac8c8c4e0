using FaceNet.Cluster.Shards;
using Orleans;
using Orleans.Runtime;

namespace FaceNet.Cluster;

/// <summary>A silo of the cluster: its address, its membership status, the shards it holds, their subjects and faces, its process memory.</summary>
public sealed record SiloState(string Address, string Status, IReadOnlyList<int> Shards, int Subjects, int Faces, long MemoryBytes);

/// <summary>The cluster as its members see it now: every silo of the membership, and where each shard is.</summary>
public sealed record ClusterState(IReadOnlyList<SiloState> Silos, IReadOnlyList<ShardStatus> Shards)
{
    /// <summary>Asks the membership and every shard (activating those that are not: the answer is where they are now).</summary>
    public static async Task<ClusterState> ReadAsync(IGrainFactory grains, int shards)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false).ConfigureAwait(false);
        var placed = await Task.WhenAll(Enumerable.Range(0, shards).Select(k => grains.GetGrain<IGalleryShard>(k).Status())).ConfigureAwait(false);
        var silos = hosts.Where(h => h.Value is SiloStatus.Active or SiloStatus.Joining or SiloStatus.ShuttingDown or SiloStatus.Stopping)
            .Select(h =>
            {
                var address = h.Key.Endpoint.ToString();
                var mine = placed.Where(p => p.Silo == address).ToList();
                return new SiloState(address, h.Value.ToString().ToLowerInvariant(), mine.Select(p => p.Shard).ToList(), mine.Sum(p => p.Subjects),
                    mine.Sum(p => p.Faces), mine.Count > 0 ? mine.Max(p => p.SiloMemoryBytes) : 0);
            })
            .OrderBy(s => s.Address, StringComparer.Ordinal).ToList();
        return new ClusterState(silos, placed);
    }
}
