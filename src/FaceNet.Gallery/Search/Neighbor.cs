namespace FaceNet.Gallery;

/// <summary>A face found near a query: its position in the index and its distance.</summary>
public readonly record struct Neighbor(int Index, float Distance);
