namespace FaceNet.Cluster.Shards;

/// <summary>A subject's distance as one shard found it (its nearest face, or the mean of its faces).</summary>
[GenerateSerializer, Immutable]
public sealed record ShardHit([property: Id(0)] string Name, [property: Id(1)] double Distance, [property: Id(2)] long SubjectId)
{
    /// <summary>The pose-band offset of the face (or mean of faces) the distance is from (see <see cref="ShardQuery.Yaw"/>).</summary>
    [Id(3)] public double Offset { get; init; }
}
