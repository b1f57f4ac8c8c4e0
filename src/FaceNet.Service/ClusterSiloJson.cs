namespace FaceNet.Service;

public sealed record ClusterSiloJson(string Address, string Status, IReadOnlyList<int> Shards, int Subjects, int Faces, long MemoryBytes);
