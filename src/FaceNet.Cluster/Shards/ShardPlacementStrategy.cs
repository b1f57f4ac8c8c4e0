namespace FaceNet.Cluster.Shards;

/// <summary>Shard grains are placed by <see cref="ShardPlacement"/>.</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class ShardPlacementStrategy : PlacementStrategy;
