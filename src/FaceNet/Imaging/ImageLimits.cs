namespace FaceNet.Imaging;

/// <summary>Limits that keep a hostile or broken image from taking unbounded memory.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest encoded file accepted, in bytes (default 50 MB).</summary>
    public long MaxFileBytes { get; init; } = 50L * 1024 * 1024;

    /// <summary>Largest decoded image, in pixels (default 60 MP); checked from the header, before any pixel is allocated.</summary>
    public long MaxPixels { get; init; } = 60_000_000;

    public static ImageLimits Default { get; } = new();
}
