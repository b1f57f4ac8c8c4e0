namespace FaceNet.Cluster.Shards;

/// <summary>
/// A shard's best subjects, and what the open-set rule needs to count: the shard's faces and subjects, and
/// the faces of the subject left out (when it is this shard's).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardAnswer([property: Id(0)] ShardHit[] Hits, [property: Id(1)] int Faces, [property: Id(2)] int Subjects,
    [property: Id(3)] int ExcludedFaces, [property: Id(4)] bool HasExcluded)
{
    /// <summary>
    /// The hits' distances are those of the shard's int8 codes (a compact shard): its best subjects by them, more than
    /// asked for, which the caller re-ranks from the store's float vectors with the other shards' (one query for all).
    /// </summary>
    [Id(5)] public bool Approximate { get; init; }
}
