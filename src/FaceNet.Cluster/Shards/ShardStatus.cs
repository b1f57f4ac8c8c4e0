using FaceNet.Gallery;

namespace FaceNet.Cluster.Shards;

/// <summary>A shard as it is now: the silo that holds it, its subjects and faces, and that silo's process memory (resident bytes).</summary>
[GenerateSerializer, Immutable]
public sealed record ShardStatus([property: Id(0)] int Shard, [property: Id(1)] string Silo, [property: Id(2)] int Subjects, [property: Id(3)] int Faces,
    [property: Id(4)] long SiloMemoryBytes)
{
    /// <summary>The tenant whose gallery the shard is of.</summary>
    [Id(7)] public string Tenant { get; init; } = GalleryTenants.Default;

    /// <summary>
    /// How the shard searches and where its graph came from: <c>exact</c> (float vectors, a scan), <c>built</c> (a graph built
    /// from the store's vectors), <c>disk</c> or <c>database</c> (a saved graph loaded, then caught up from the feed).
    /// </summary>
    [Id(5)] public string Graph { get; init; } = "exact";

    /// <summary>The feed position the shard's last saved graph covers (0: none saved).</summary>
    [Id(6)] public long SavedAt { get; init; }
}
