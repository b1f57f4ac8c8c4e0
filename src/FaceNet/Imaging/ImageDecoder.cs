using SkiaSharp;

namespace FaceNet.Imaging;

/// <summary>
/// Decodes JPEG, PNG, BMP, WebP and GIF (first frame) with SkiaSharp, TIFF with LibTiff.NET and netpbm
/// (PGM/PPM/PBM) with our own reader, into 8-bit RGB whatever the source (grey, 16-bit, palette, alpha,
/// CMYK), and applies the EXIF orientation so the pixels are upright.
/// </summary>
public static class ImageDecoder
{
    public static RgbImage Load(string path, ImageLimits? limits = null) => Decode(ReadFile(path, limits), path, limits, 0).Image;

    /// <summary>A photo file, decoded at the size the work needs (see <see cref="DecodePhoto"/>).</summary>
    public static Photo LoadPhoto(string path, ImageLimits? limits = null, int minLongSide = 0) => DecodePhoto(ReadFile(path, limits),
        path, limits, minLongSide);

    /// <summary>The bytes of an image file, within the size limit; problems as <see cref="ImageException"/>.</summary>
    public static byte[] ReadFile(string path, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ImageException(path, Directory.Exists(path) ? "is a directory, not an image" : "file not found");
            if (info.Length > limits.MaxFileBytes) throw new ImageException(path,
                $"file is {info.Length} bytes, larger than the limit of {limits.MaxFileBytes}");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException(path, "cannot read file: " + e.Message, e);
        }
    }

    public static RgbImage Load(Stream stream, string name = "<stream>",
        ImageLimits? limits = null) => Decode(ReadStream(stream, name, limits), name, limits, 0).Image;

    /// <summary>A stream's bytes, within the size limit.</summary>
    public static byte[] ReadStream(Stream stream, string name = "<stream>", ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + n > limits.MaxFileBytes) throw new ImageException(name, $"stream is larger than the limit of {limits.MaxFileBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    // Skia calls a few bytes of anything "incomplete input": only the start of a real image format is truncated.
    private static bool HasImageSignature(ReadOnlySpan<byte> b)
        => b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8]) || b.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
           || b.StartsWith("GIF8"u8) || b.StartsWith("BM"u8) || b.StartsWith("RIFF"u8);

    public static RgbImage Decode(ReadOnlySpan<byte> bytes, string name = "<bytes>", ImageLimits? limits = null)
        => Decode(bytes.ToArray(), name, limits, 0).Image;

    /// <summary>
    /// Decodes at the smallest scale whose longer side is still at least <paramref name="minLongSide"/>
    /// (0: full size): JPEG and WebP decode straight to 1/2, 1/4 or 1/8 of their size (libjpeg-turbo's
    /// DCT scaling), far faster than decoding everything and shrinking; other formats decode in full.
    /// The size limits apply to the full image, from its header.
    /// </summary>
    public static Photo DecodePhoto(byte[] bytes, string name = "<bytes>", ImageLimits? limits = null, int minLongSide = 0)
    {
        var (image, scale, width, height) = Decode(bytes, name, limits, minLongSide);
        return new Photo(name, width, height, image, scale, need => Decode(bytes, name, limits, need));
    }

    /// <summary>The image at the smallest scale with a longer side ≥ minLongSide, that scale, and the full (upright) size.</summary>
    private static (RgbImage Image, double Scale, int Width, int Height) Decode(byte[] bytes, string name, ImageLimits? limits, int minLongSide)
    {
        limits ??= ImageLimits.Default;
        if (bytes.Length == 0) throw new ImageException(name, "empty file (0 bytes)");
        if (bytes.Length > limits.MaxFileBytes) throw new ImageException(name,
            $"image is {bytes.Length} bytes, larger than the limit of {limits.MaxFileBytes}");
        if (Netpbm.Sniff(bytes)) return Whole(Netpbm.Decode(bytes, name, limits));
        if (TiffImage.Sniff(bytes)) return Whole(TiffImage.Decode(bytes, name, limits));
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var result);
        if (codec is null)
            throw new ImageException(name, result == SKCodecResult.IncompleteInput
                && HasImageSignature(bytes) ? "truncated image header" : "not a supported image (JPEG, PNG, BMP, WebP, GIF, TIFF, PGM/PPM)");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0) throw new ImageException(name, $"invalid image dimensions {info.Width}x{info.Height}");
        long pixels = (long)info.Width * info.Height;
        if (pixels > limits.MaxPixels)
            throw new ImageException(name, $"image is {info.Width}x{info.Height} ({pixels} pixels), larger than the limit of {limits.MaxPixels} pixels");

        var size = new SKSizeI(info.Width, info.Height);
        int longSide = Math.Max(info.Width, info.Height);
        if (minLongSide > 0 && minLongSide < longSide)
        {
            // the codec offers eighths (JPEG) or any size (WebP); take the smallest that is large enough
            for (int eighths = 1; eighths < 8; eighths++)
            {
                var scaled = codec.GetScaledDimensions(eighths / 8f);
                if (Math.Max(scaled.Width, scaled.Height) >= minLongSide && scaled.Width < info.Width) { size = scaled; break; }
            }
        }
        var target = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKColorSpace.CreateSrgb());
        long n = (long)size.Width * size.Height;
        var rgba = new byte[n * 4];
        SKCodecResult decoded;
        unsafe
        {
            fixed (byte* p = rgba) decoded = codec.GetPixels(target, (IntPtr)p);
        }
        if (decoded == SKCodecResult.IncompleteInput) throw new ImageException(name, "truncated image data");
        if (decoded != SKCodecResult.Success) throw new ImageException(name, $"cannot decode image ({decoded})");

        var rgb = new byte[n * 3];
        for (long i = 0, j = 0; i < n; i++, j += 4)
        {
            rgb[i * 3] = rgba[j];
            rgb[i * 3 + 1] = rgba[j + 1];
            rgb[i * 3 + 2] = rgba[j + 2];
        }
        var upright = Orient(new RgbImage(size.Width, size.Height, rgb), codec.EncodedOrigin);
        bool swap = upright.Width != size.Width;
        int fullW = swap ? info.Height : info.Width, fullH = swap ? info.Width : info.Height;
        return (upright, (double)upright.Width / fullW, fullW, fullH);

        static (RgbImage, double, int, int) Whole(RgbImage image) => (image, 1.0, image.Width, image.Height);
    }

    /// <summary>
    /// The pixels decoding would give (width × height), read from the header alone; null when the header cannot be
    /// read (decoding then says why). What a service budgets before it decodes.
    /// </summary>
    public static long? PixelsOf(byte[] bytes)
    {
        try
        {
            if (Netpbm.Sniff(bytes)) return Netpbm.Pixels(bytes);
            if (TiffImage.Sniff(bytes)) return TiffImage.Pixels(bytes);
            using var data = SKData.CreateCopy(bytes);
            using var codec = SKCodec.Create(new SKMemoryStream(data));
            return codec is null ? null : (long)codec.Info.Width * codec.Info.Height;
        }
        catch (Exception e) when (e is not OutOfMemoryException) // LibTiff throws what it likes on a broken header
        {
            return null; // a header no reader can make sense of: the decode reports it
        }
    }

    /// <summary>Whether a file name has one of the extensions the decoder reads (folders of photos are filtered by it).</summary>
    public static bool IsImageFile(string path)
        => Path.GetExtension(path).ToLowerInvariant() is ".jpg" or ".jpeg" or ".png" or ".bmp" or ".webp" or ".gif"
            or ".tif" or ".tiff" or ".pgm" or ".ppm" or ".pbm" or ".pnm";

    /// <summary>Turns stored pixels upright according to the EXIF orientation (1–8).</summary>
    internal static RgbImage Orient(RgbImage src, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft) return src;
        int w = src.Width, h = src.Height;
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int ow = swap ? h : w, oh = swap ? w : h;
        var dst = new byte[src.Pixels.Length];
        for (int yo = 0; yo < oh; yo++)
        for (int xo = 0; xo < ow; xo++)
        {
            // (xi, yi): the stored pixel shown at (xo, yo).
            var (xi, yi) = origin switch
            {
                SKEncodedOrigin.TopRight => (w - 1 - xo, yo),
                SKEncodedOrigin.BottomRight => (w - 1 - xo, h - 1 - yo),
                SKEncodedOrigin.BottomLeft => (xo, h - 1 - yo),
                SKEncodedOrigin.LeftTop => (yo, xo),
                SKEncodedOrigin.RightTop => (yo, h - 1 - xo),
                SKEncodedOrigin.RightBottom => (w - 1 - yo, h - 1 - xo),
                SKEncodedOrigin.LeftBottom => (w - 1 - yo, xo),
                _ => (xo, yo),
            };
            Buffer.BlockCopy(src.Pixels, (yi * w + xi) * 3, dst, (yo * ow + xo) * 3, 3);
        }
        return new RgbImage(ow, oh, dst);
    }
}
