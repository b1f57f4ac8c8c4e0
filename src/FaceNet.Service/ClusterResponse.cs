namespace FaceNet.Service;

public sealed record ClusterResponse(int ShardCount, int Subjects, int Faces, IReadOnlyList<ClusterSiloJson> Silos, IReadOnlyList<ClusterShardJson> Shards)
{
    public static ClusterResponse Of(Cluster.ClusterState state) => new(state.Shards.Count, state.Shards.Sum(s => s.Subjects), state.Shards.Sum(s => s.Faces),
        state.Silos.Select(s => new ClusterSiloJson(s.Address, s.Status, s.Shards, s.Subjects, s.Faces, s.MemoryBytes)).ToList(),
        state.Shards.Select(s => new ClusterShardJson(s.Shard, s.Silo, s.Subjects, s.Faces, s.Graph, s.SavedAt, s.Tenant)).ToList());
}

// multipart forms, for the OpenAPI document
