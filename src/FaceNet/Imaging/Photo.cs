namespace FaceNet.Imaging;

/// <summary>
/// A photo decoded no larger than the work needs: <see cref="Image"/> is the photo at <see cref="Scale"/>
/// of its full size (<see cref="Width"/> × <see cref="Height"/>); <see cref="AtLeast"/> decodes it again,
/// larger, when a face in it is too small to align well. A 12 MP JPEG is detected on a 1/8 decode and a
/// large face aligned from it too, instead of decoding 12 million pixels to look at 640 × 480 of them.
/// </summary>
public sealed class Photo
{
    private readonly Func<int, (RgbImage Image, double Scale, int Width, int Height)> _decode;
    private readonly object _gate = new();
    private readonly List<(RgbImage Image, double Scale)> _decoded = [];

    internal Photo(string name, int width, int height, RgbImage image, double scale, Func<int, (RgbImage, double, int, int)> decode)
    {
        Name = name;
        Width = width;
        Height = height;
        Image = image;
        Scale = scale;
        _decode = decode;
        _decoded.Add((image, scale));
    }

    /// <summary>A photo that is already pixels (nothing to decode again).</summary>
    public static Photo Of(RgbImage image, string name = "<image>") => new(name, image.Width, image.Height, image, 1.0,
        _ => (image, 1.0, image.Width, image.Height));

    public string Name { get; }

    /// <summary>The full size, upright.</summary>
    public int Width { get; }
    public int Height { get; }

    /// <summary>The photo as first decoded, at <see cref="Scale"/> (1: full size).</summary>
    public RgbImage Image { get; }
    public double Scale { get; }

    /// <summary>The photo at a scale of at least <paramref name="scale"/> (at most 1), decoded once and kept.</summary>
    public (RgbImage Image, double Scale) AtLeast(double scale)
    {
        lock (_gate)
        {
            foreach (var d in _decoded.OrderBy(d => d.Scale))
                if (d.Scale >= scale - 1e-9) return d;
            int minLongSide = scale >= 1 ? 0 : (int)Math.Ceiling(Math.Max(Width, Height) * scale);
            var (image, actual, _, _) = _decode(minLongSide);
            _decoded.Add((image, actual));
            return (image, actual);
        }
    }
}
