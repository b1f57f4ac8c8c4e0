namespace FaceNet.Gallery;

/// <summary>A face the gallery already identifies as another subject.</summary>
public sealed class DuplicateFaceException(string file, string name, Identification other)
    : FaceNetException(file, $"the face is already enrolled as '{other.Name}' (distance {other.Distance:F3} within the threshold {other.Threshold:F3}); not enrolled as '{name}'", kind: FaceNetErrorKind.Duplicate)
{
    public string Name { get; } = name;
    public Identification Other { get; } = other;
}
