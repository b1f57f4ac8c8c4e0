using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FaceNet.Imaging;
using SkiaSharp;

namespace FaceNet.Tests.Imaging;

public sealed class ImageDecoderTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-img-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Zero_byte_file_is_refused()
    {
        var path = Write("empty.jpg", []);
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.Equal(path, e.File);
        Assert.Contains("empty", e.Reason);
    }

    [Fact]
    public void Truncated_jpeg_is_refused()
    {
        var jpeg = Encode(Pattern(64, 48), SKEncodedImageFormat.Jpeg);
        var path = Write("cut.jpg", jpeg[..(jpeg.Length / 2)]);
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.Contains("truncated", e.Reason);
    }

    [Fact]
    public void Text_file_renamed_jpg_is_refused()
    {
        var path = Write("notes.jpg", Encoding.UTF8.GetBytes("these are not the pixels you are looking for\n"));
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.Contains("not a supported image", e.Reason);
    }

    [Fact]
    public void Decompression_bomb_is_refused_from_the_header_before_allocation()
    {
        var path = Write("bomb.png", PngHeaderOnly(100_000, 100_000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("100000x100000", e.Reason);
        Assert.Contains("limit", e.Reason);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes before refusing");
    }

    [Fact]
    public void Pixel_and_file_limits_are_configurable()
    {
        var path = Write("small.png", Encode(Pattern(100, 100), SKEncodedImageFormat.Png));
        Assert.Throws<ImageException>(() => ImageDecoder.Load(path, new ImageLimits { MaxPixels = 9_999 }));
        Assert.Throws<ImageException>(() => ImageDecoder.Load(path, new ImageLimits { MaxFileBytes = 10 }));
        Assert.Equal(100, ImageDecoder.Load(path, new ImageLimits { MaxPixels = 10_000 }).Width);
    }

    [Fact]
    public void Png_with_alpha_gives_its_rgb()
    {
        using var bmp = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bmp.Erase(new SKColor(200, 100, 50, 128));
        var image = ImageDecoder.Decode(Encode(bmp, SKEncodedImageFormat.Png), "alpha.png");
        var (r, g, b) = image[3, 3];
        Assert.InRange(r, 198, 202); Assert.InRange(g, 98, 102); Assert.InRange(b, 48, 52);
    }

    [Fact]
    public void Grey_jpeg_gives_equal_rgb_channels()
    {
        using var bmp = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Gray8, SKAlphaType.Opaque));
        bmp.Erase(new SKColor(90, 90, 90));
        var bytes = Encode(bmp, SKEncodedImageFormat.Jpeg);
        var image = ImageDecoder.Decode(bytes, "grey.jpg");
        var (r, g, b) = image[8, 8];
        Assert.Equal(r, g); Assert.Equal(g, b);
        Assert.InRange(r, 85, 95);
    }

    [Fact]
    public void Cmyk_jpeg_decodes_to_the_right_colours()
    {
        var image = ImageDecoder.Load(TestImages.DataPath("images", "cmyk.jpg"));
        Assert.Equal((64, 32), (image.Width, image.Height));
        AssertNear((255, 0, 0), image[8, 16], 40);
        AssertNear((0, 0, 255), image[56, 16], 40);
    }

    [Fact]
    public void Sixteen_bit_png_is_scaled_to_8_bits()
    {
        var image = ImageDecoder.Load(TestImages.DataPath("images", "gray16.png"));
        Assert.Equal((64, 16), (image.Width, image.Height));
        Assert.InRange(image[0, 8].R, 0, 2);
        Assert.InRange(image[63, 8].R, 253, 255);
        Assert.InRange(image[32, 8].R, 120, 136);
    }

    [Fact]
    public void Palette_png_bmp_and_first_gif_frame_decode()
    {
        var palette = ImageDecoder.Load(TestImages.DataPath("images", "palette.png"));
        AssertNear((255, 0, 0), palette[8, 16], 10);
        var bmp = ImageDecoder.Load(TestImages.DataPath("images", "pattern.bmp"));
        AssertNear((0, 0, 255), bmp[60, 30], 0);
        var gif = ImageDecoder.Load(TestImages.DataPath("images", "anim.gif"));
        AssertNear((0, 255, 0), gif[8, 8], 10);
    }

    [Fact]
    public void Exif_orientation_is_applied()
    {
        // Stored 40×20 with a red block at the stored top-left; orientation 6 shows it rotated 90° clockwise,
        // so the upright image is 20×40 and the block sits at its top-right.
        var image = ImageDecoder.Load(TestImages.DataPath("images", "exif_orientation6.jpg"));
        Assert.Equal((20, 40), (image.Width, image.Height));
        AssertNear((255, 0, 0), image[17, 3], 60);
        AssertNear((128, 128, 128), image[2, 3], 30);
        AssertNear((128, 128, 128), image[17, 36], 30);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Webp)]
    [InlineData(SKEncodedImageFormat.Png)]
    public void Other_formats_decode_losslessly_enough(SKEncodedImageFormat format)
    {
        using var bmp = Pattern(33, 21);
        var image = ImageDecoder.Decode(Encode(bmp, format, 100), "x." + format);
        Assert.Equal((33, 21), (image.Width, image.Height));
        var c = bmp.GetPixel(10, 7);
        AssertNear((c.Red, c.Green, c.Blue), image[10, 7], format == SKEncodedImageFormat.Webp ? 30 : 0);
    }

    [Fact]
    public void Stream_and_bytes_give_the_same_pixels_as_a_path()
    {
        var bytes = Encode(Pattern(20, 10), SKEncodedImageFormat.Png);
        var path = Write("p.png", bytes);
        var a = ImageDecoder.Load(path);
        var b = ImageDecoder.Load(new MemoryStream(bytes));
        var c = ImageDecoder.Decode(bytes);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Equal(a.Pixels, c.Pixels);
    }

    [Fact]
    public void Margin_crop_is_the_seeds_and_is_clamped_at_the_border()
    {
        var image = new RgbImage(100, 80, Enumerable.Range(0, 100 * 80 * 3).Select(i => (byte)(i % 251)).ToArray());
        var inner = image.CropWithMargin(30, 20, 40, 30, 10);
        Assert.Equal((50, 40), (inner.Width, inner.Height));
        Assert.Equal(image[25, 15], inner[0, 0]);
        var border = image.CropWithMargin(0, 0, 40, 30, 10); // the seed would wrap around to the far side here
        Assert.Equal((45, 35), (border.Width, border.Height));
        Assert.Equal(image[0, 0], border[0, 0]);
    }

    [Fact]
    public void Resize_bilinear_and_area_keep_flat_colours_and_average_blocks()
    {
        var flat = new RgbImage(37, 23, Enumerable.Repeat((byte)77, 37 * 23 * 3).ToArray());
        Assert.All(flat.Resize(160, 160).Pixels, p => Assert.Equal(77, p));
        Assert.All(flat.Resize(10, 7, ResizeMode.Area).Pixels, p => Assert.Equal(77, p));
        // 2×2 checker averaged by an exact 2× area reduction
        var px = new byte[4 * 4 * 3];
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) for (int c = 0; c < 3; c++) px[(y * 4 + x) * 3 + c] = (byte)((x + y) % 2 == 0 ? 200 : 100);
        Assert.All(new RgbImage(4, 4, px).Resize(2, 2, ResizeMode.Area).Pixels, p => Assert.Equal(150, p));
    }

    private static void AssertNear((int R, int G, int B) want, (byte R, byte G, byte B) got, int tolerance)
    {
        Assert.True(Math.Abs(want.R - got.R) <= tolerance && Math.Abs(want.G - got.G) <= tolerance && Math.Abs(want.B - got.B) <= tolerance,
            $"expected about {want}, got {got}");
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static SKBitmap Pattern(int w, int h)
    {
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) bmp.SetPixel(x, y, new SKColor((byte)(x * 7), (byte)(y * 11), (byte)((x + y) * 3)));
        return bmp;
    }

    private static byte[] Encode(SKBitmap bmp, SKEncodedImageFormat format, int quality = 90)
    {
        using var data = bmp.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A PNG signature and IHDR announcing the given size, then a tiny IDAT: the classic decompression bomb header.</summary>
    internal static byte[] PngHeaderOnly(int width, int height)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        Chunk(ms, "IHDR", ihdr);
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.SmallestSize, leaveOpen: true)) zs.Write(new byte[1024]);
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var td = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(td);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(td));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xffffffff;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
