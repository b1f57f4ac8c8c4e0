using System.Text;
using BitMiracle.LibTiff.Classic;

namespace FaceNet.Imaging;

/// <summary>
/// Netpbm images (PBM/PGM/PPM, ASCII P1–P3 and binary P4–P6, 8 or 16 bits): the format of the classic
/// face sets (AT&amp;T/ORL, Yale, FERET's PPMs). SkiaSharp does not read them, and the format is a small
/// header and raw samples, so the decoder is ours. Dimensions are checked against the pixel limit and
/// the data against the file size before any pixel buffer is allocated.
/// </summary>
internal static class Netpbm
{
    public static bool Sniff(ReadOnlySpan<byte> b) => b.Length >= 3 && b[0] == (byte)'P' && b[1] is >= (byte)'1' and <= (byte)'7' && IsSpace(b[2]);

    /// <summary>Width × height from the header (an <see cref="ImageException"/> when it cannot be read).</summary>
    public static long Pixels(ReadOnlySpan<byte> bytes)
    {
        int pos = 2;
        return Header(bytes, ref pos, "", "width") * Header(bytes, ref pos, "", "height");
    }

    public static RgbImage Decode(ReadOnlySpan<byte> bytes, string name, ImageLimits limits)
    {
        char kind = (char)bytes[1];
        if (kind == '7') throw new ImageException(name, "PAM (P7) images are not supported; save as PGM, PPM or PNG");
        int pos = 2;
        long width = Header(bytes, ref pos, name, "width"), height = Header(bytes, ref pos, name, "height");
        long maxval = kind is '1' or '4' ? 1 : Header(bytes, ref pos, name, "maximum value");
        if (width <= 0 || height <= 0) throw new ImageException(name, $"invalid image dimensions {width}x{height}");
        if (width * height > limits.MaxPixels)
            throw new ImageException(name, $"image is {width}x{height} ({width * height} pixels), larger than the limit of {limits.MaxPixels} pixels");
        if (maxval is < 1 or > 65535) throw new ImageException(name, $"maximum sample value {maxval} outside 1–65535");
        int channels = kind is '3' or '6' ? 3 : 1;
        long samples = width * height * channels;
        bool binary = kind >= '4';
        if (binary)
        {
            pos++; // the single whitespace after the header
            long need = kind == '4' ? (width + 7) / 8 * height : samples * (maxval > 255 ? 2 : 1);
            if (bytes.Length - pos < need) throw new ImageException(name, "truncated image data");
        }
        else if (bytes.Length - pos < samples) throw new ImageException(name, "truncated image data"); // each ASCII sample takes at least one byte
        int w = (int)width, h = (int)height;
        var rgb = new byte[(long)w * h * 3];
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            long i = (long)y * w + x;
            for (int c = 0; c < channels; c++)
            {
                long v;
                if (kind == '4') v = (bytes[pos + (int)(y * ((width + 7) / 8) + x / 8)] >> (7 - x % 8)) & 1;
                else if (binary) v = maxval > 255 ? bytes[pos + (int)(2 * (i * channels + c))] << 8 | bytes[pos
                    + (int)(2 * (i * channels + c)) + 1] : bytes[pos + (int)(i * channels + c)];
                else v = Header(bytes, ref pos, name, "sample");
                if (v > maxval) throw new ImageException(name, $"sample value {v} above the maximum {maxval}");
                // PBM: 1 is black.
                byte value = kind is '1' or '4' ? (byte)(v == 1 ? 0 : 255) : (byte)((v * 255 + maxval / 2) / maxval);
                if (channels == 3) rgb[i * 3 + c] = value;
                else rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = value;
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /// <summary>The next decimal number, skipping whitespace and <c>#</c> comments.</summary>
    private static long Header(ReadOnlySpan<byte> b, ref int pos, string name, string what)
    {
        while (pos < b.Length && (IsSpace(b[pos]) || b[pos] == (byte)'#'))
        {
            if (b[pos] == (byte)'#') while (pos < b.Length && b[pos] != (byte)'\n') pos++;
            else pos++;
        }
        long v = 0;
        int start = pos;
        while (pos < b.Length && b[pos] is >= (byte)'0' and <= (byte)'9' && pos - start < 12) v = v * 10 + (b[pos++] - '0');
        if (pos == start) throw new ImageException(name,
            pos >= b.Length ? $"truncated netpbm image (no {what})" : $"malformed netpbm image (expected the {what})");
        return v;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0b or 0x0c;
}

/// <summary>TIFF images, through LibTiff.NET (any compression, bit depth and photometric it reads), first page.</summary>
internal static class TiffImage
{
    public static bool Sniff(ReadOnlySpan<byte> b) => b.Length >= 4 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0)
        || (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42));

    [ThreadStatic] private static StringBuilder? t_errors;
    private static readonly Lazy<bool> Installed = new(() => { Tiff.SetErrorHandler(new Collect()); return true; });

    /// <summary>Width × height of the first page from its tags, or null when it cannot be read.</summary>
    public static long? Pixels(byte[] bytes)
    {
        _ = Installed.Value;
        using var stream = new MemoryStream(bytes, writable: false);
        using var tiff = Tiff.ClientOpen("", "r", stream, new TiffStream());
        if (tiff is null) return null;
        return (long)(tiff.GetField(TiffTag.IMAGEWIDTH)?[0].ToInt() ?? 0) * (tiff.GetField(TiffTag.IMAGELENGTH)?[0].ToInt() ?? 0);
    }

    public static RgbImage Decode(ReadOnlySpan<byte> bytes, string name, ImageLimits limits)
    {
        _ = Installed.Value;
        var errors = t_errors ??= new StringBuilder();
        errors.Clear();
        try
        {
            using var stream = new MemoryStream(bytes.ToArray(), writable: false);
            using var tiff = Tiff.ClientOpen(name, "r", stream, new TiffStream())
                ?? throw new ImageException(name, "not a readable TIFF" + (errors.Length > 0 ? ": " + errors.ToString().Trim() : ""));
            int w = tiff.GetField(TiffTag.IMAGEWIDTH)?[0].ToInt() ?? 0, h = tiff.GetField(TiffTag.IMAGELENGTH)?[0].ToInt() ?? 0;
            if (w <= 0 || h <= 0) throw new ImageException(name, $"invalid image dimensions {w}x{h}");
            if ((long)w * h > limits.MaxPixels)
                throw new ImageException(name, $"image is {w}x{h} ({(long)w * h} pixels), larger than the limit of {limits.MaxPixels} pixels");
            var raster = new int[(long)w * h];
            if (!tiff.ReadRGBAImageOriented(w, h, raster, Orientation.TOPLEFT))
                throw new ImageException(name, "cannot decode TIFF" + (errors.Length > 0 ? ": " + errors.ToString().Trim() : ""));
            var rgb = new byte[(long)w * h * 3];
            for (long i = 0; i < raster.Length; i++)
            {
                int p = raster[i];
                rgb[i * 3] = (byte)Tiff.GetR(p);
                rgb[i * 3 + 1] = (byte)Tiff.GetG(p);
                rgb[i * 3 + 2] = (byte)Tiff.GetB(p);
            }
            return new RgbImage(w, h, rgb);
        }
        catch (Exception e) when (e is not ImageException and not OutOfMemoryException)
        {
            throw new ImageException(name, "cannot decode TIFF: " + e.Message, e);
        }
    }

    /// <summary>
    /// LibTiff writes its complaints to the console by default (one process-wide handler); they go into
    /// the error message of the decode on the same thread instead.
    /// </summary>
    private sealed class Collect : TiffErrorHandler
    {
        public override void ErrorHandler(Tiff tif, string method, string format, params object[] args)
        {
            if (t_errors is { Length: < 2000 } sink) sink.Append(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args)).Append("; ");
        }

        public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format,
            params object[] args) => ErrorHandler(tif, method, format, args);
        public override void WarningHandler(Tiff tif, string method, string format, params object[] args) { }
        public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }
    }
}
