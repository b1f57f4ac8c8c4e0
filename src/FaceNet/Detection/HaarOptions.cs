namespace FaceNet.Detection;

/// <summary>Options of <see cref="HaarDetector"/>; defaults are the seed's (<c>scaleFactor=1.1, minNeighbors=3</c>).</summary>
public sealed record HaarOptions
{
    public double ScaleFactor { get; init; } = 1.1;
    public int MinNeighbors { get; init; } = 3;
    /// <summary>Smallest face side searched, in pixels (0: the cascade's window).</summary>
    public int MinSize { get; init; }
    /// <summary>Largest face side searched, in pixels (0: the image).</summary>
    public int MaxSize { get; init; }
}
