namespace FaceNet.Cluster;

/// <summary>A silo of the cluster: its address, its membership status, the shards it holds, their subjects and faces, its process memory.</summary>
public sealed record SiloState(string Address, string Status, IReadOnlyList<int> Shards, int Subjects, int Faces, long MemoryBytes);
