namespace FaceNet.Service;

public sealed record ClusterShardJson(int Shard, string Silo, int Subjects, int Faces, string Graph, long SavedAt, string Tenant);
