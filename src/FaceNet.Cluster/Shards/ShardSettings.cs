using FaceNet.Gallery;
using FaceNet.Gallery.Protection;

namespace FaceNet.Cluster.Shards;

/// <summary>Where the shards' gallery is, how many shards it is cut into (fixed when the gallery is made), its master key when encrypted.</summary>
public sealed record ShardSettings(string ConnectionString, int Shards, MasterKey? Key = null)
{
    /// <summary>
    /// Where this silo keeps its shards' graphs on its own disk (a folder per database and schema); null: in the database only.
    /// Every saved graph is also written to the gallery's database (table <c>shard_graphs</c>), which every silo reaches.
    /// </summary>
    public string? GraphDirectory { get; init; }

    /// <summary>Changes applied to a shard after which its graph is saved again (so a reload catches up a short feed, never a trimmed one).</summary>
    public int SaveEvery { get; init; } = 20_000;

    /// <summary>How each shard searches (default: compact, an int8 HNSW graph, from <see cref="FaceIndexOptions.ApproximateFrom"/> faces on).</summary>
    public FaceIndexOptions? Index { get; init; }
}
