namespace FaceNet.Cluster.Shards;

/// <summary>How a tenant's shard grain is named: the shard's number, and the tenant as the key's extension.</summary>
public static class ShardGrains
{
    public static IGalleryShard Get(IGrainFactory grains, string tenant, int shard) => grains.GetGrain<IGalleryShard>(shard, tenant);
}
