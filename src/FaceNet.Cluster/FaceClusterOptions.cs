using System.Net;
using FaceNet.Cluster.Shards;
using FaceNet.Gallery.Protection;

namespace FaceNet.Cluster;

/// <summary>Where a silo of a FaceNet cluster listens and which gallery it serves.</summary>
public sealed record FaceClusterOptions
{
    /// <summary>The PostgreSQL database of the gallery (schema <c>facenet</c>) and of the cluster's membership (schema <c>orleans</c>).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>Silos with the same id over the same database form one cluster.</summary>
    public string ClusterId { get; init; } = "facenet";

    /// <summary>Silo-to-silo port (Orleans' default 11111).</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port for Orleans clients (Orleans' default 30000).</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos reach this one at (default loopback: a cluster on one machine); another address listens on every interface.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Shards of a new gallery (default 64); a gallery that has its count keeps it, and another one asked for is refused.</summary>
    public int? Shards { get; init; }

    /// <summary>The master key of an encrypted gallery.</summary>
    public MasterKey? Key { get; init; }

    /// <summary>
    /// Where this silo keeps its shards' saved graphs on its own disk (default <see cref="ShardGraphs.DefaultDirectory"/>); null keeps
    /// them in the database only. Every saved graph is also in the database, where the silo that takes a shard over finds it.
    /// </summary>
    public string? GraphDirectory { get; init; } = ShardGraphs.DefaultDirectory;

    /// <summary>How each shard searches its faces (default: <see cref="Gallery.FaceIndexOptions"/>' own: compact from 10,000 faces on).</summary>
    public Gallery.FaceIndexOptions? Index { get; init; }

    public const int DefaultShards = 64;
}
