using System.Text;
using BitMiracle.LibTiff.Classic;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Tests.Imaging;

/// <summary>Netpbm (the classic face sets' format) and TIFF, made here from a committed photo.</summary>
public sealed class OtherFormatsTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-formats-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static RgbImage Photo => ImageDecoder.Load(TestImages.DataPath("faces", "img1.jpg"));

    private static byte[] Grey(RgbImage image)
    {
        var g = new byte[image.Width * image.Height];
        for (int i = 0; i < g.Length; i++) g[i] = (byte)Math.Round(0.299 * image.Pixels[3 * i] + 0.587 * image.Pixels[3 * i + 1] + 0.114 * image.Pixels[3 * i + 2]);
        return g;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Concat(string header, byte[] data) => [.. Encoding.ASCII.GetBytes(header), .. data];

    [Fact]
    public void Binary_pgm_and_ppm_decode_to_their_samples()
    {
        var photo = Photo;
        var grey = Grey(photo);
        var pgm = ImageDecoder.Load(Write("g.pgm", Concat($"P5\n# a comment\n{photo.Width} {photo.Height}\n255\n", grey)));
        Assert.Equal((photo.Width, photo.Height), (pgm.Width, pgm.Height));
        for (int i = 0; i < grey.Length; i += 997) Assert.Equal((grey[i], grey[i], grey[i]), (pgm.Pixels[3 * i], pgm.Pixels[3 * i + 1], pgm.Pixels[3 * i + 2]));

        var ppm = ImageDecoder.Load(Write("c.ppm", Concat($"P6 {photo.Width} {photo.Height} 255\n", photo.Pixels)));
        Assert.Equal(photo.Pixels, ppm.Pixels);
    }

    [Fact]
    public void Ascii_and_16_bit_netpbm_are_scaled_to_8_bits()
    {
        var ascii = ImageDecoder.Load(Write("a.pgm", Encoding.ASCII.GetBytes("P2\n3 2\n# max 1000\n1000\n0 500 1000\n250 750 1\n")));
        Assert.Equal([0, 128, 255, 64, 191, 0], Enumerable.Range(0, 6).Select(i => (int)ascii.Pixels[3 * i]));

        var wide = ImageDecoder.Load(Write("w.pgm", Concat("P5 2 1 65535\n", [0xFF, 0xFF, 0x80, 0x00])));
        Assert.Equal([255, 128], new[] { (int)wide.Pixels[0], wide.Pixels[3] });

        var bits = ImageDecoder.Load(Write("b.pbm", Concat("P4\n10 2\n", [0b1000_0000, 0b0100_0000, 0b0000_0000, 0b0000_0000])));
        Assert.Equal((10, 2), (bits.Width, bits.Height));
        Assert.Equal(0, bits.Pixels[0]);      // 1 is black
        Assert.Equal(255, bits.Pixels[3]);
        Assert.Equal(0, bits.Pixels[9 * 3]);  // 10th pixel, from the second byte of the row
    }

    [Theory]
    [InlineData("P5\n100 100\n255\n" + "xx", "truncated")]
    [InlineData("P5\n100\n", "truncated")]
    [InlineData("P5\nabc 100 255\n", "malformed")]
    [InlineData("P5\n0 10 255\n", "dimensions")]
    [InlineData("P2\n2 1\n255\n7 300\n", "above the maximum")]
    [InlineData("P7\nWIDTH 2\n", "PAM")]
    public void Broken_netpbm_files_are_refused_with_the_reason(string text, string reason)
    {
        var path = Write("bad.pgm", Encoding.ASCII.GetBytes(text));
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.Equal(path, e.File);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void A_netpbm_bomb_is_refused_from_the_header()
    {
        var path = Write("bomb.ppm", Encoding.ASCII.GetBytes("P6\n100000 100000\n255\n\0\0\0"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
        Assert.Contains("limit", e.Reason);
    }

    private byte[] WriteTiff(RgbImage image, bool grey16, Compression compression)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".tif");
        using (var t = Tiff.Open(path, "w"))
        {
            t.SetField(TiffTag.IMAGEWIDTH, image.Width);
            t.SetField(TiffTag.IMAGELENGTH, image.Height);
            t.SetField(TiffTag.SAMPLESPERPIXEL, grey16 ? 1 : 3);
            t.SetField(TiffTag.BITSPERSAMPLE, grey16 ? 16 : 8);
            t.SetField(TiffTag.PHOTOMETRIC, grey16 ? Photometric.MINISBLACK : Photometric.RGB);
            t.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
            t.SetField(TiffTag.COMPRESSION, compression);
            t.SetField(TiffTag.ROWSPERSTRIP, 16);
            var grey = Grey(image);
            for (int y = 0; y < image.Height; y++)
            {
                byte[] row = grey16
                    ? Enumerable.Range(0, image.Width).SelectMany(x => BitConverter.GetBytes((ushort)(grey[y * image.Width + x] * 257))).ToArray()
                    : image.Pixels.AsSpan(y * image.Width * 3, image.Width * 3).ToArray();
                t.WriteScanline(row, y);
            }
        }
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Tiff_decodes_rgb_and_16_bit_grey()
    {
        var photo = Photo;
        var rgb = ImageDecoder.Load(Write("rgb.tif", WriteTiff(photo, false, Compression.LZW)));
        Assert.Equal(photo.Pixels, rgb.Pixels);
        var grey = ImageDecoder.Load(Write("grey.tiff", WriteTiff(photo, true, Compression.NONE)));
        var expected = Grey(photo);
        for (int i = 0; i < expected.Length; i += 991) Assert.Equal(expected[i], grey.Pixels[3 * i]);
    }

    [Fact]
    public void A_broken_tiff_is_refused_with_the_reason()
    {
        var bytes = WriteTiff(Photo, false, Compression.LZW);
        var path = Write("cut.tif", bytes[..(bytes.Length / 3)]);
        var e = Assert.Throws<ImageException>(() => ImageDecoder.Load(path));
        Assert.Equal(path, e.File);
        Assert.Contains("TIFF", e.Reason);
    }

    [Theory]
    [InlineData("yunet+onet")]
    [InlineData("yunet")]
    [InlineData("mtcnn")]
    [InlineData("haar")]
    public void Grey_photos_work_through_every_detector(string name)
    {
        var photo = Photo;
        var grey = ImageDecoder.Load(Write("g.pgm", Concat($"P5 {photo.Width} {photo.Height} 255\n", Grey(photo))));
        using var detector = Detectors.Create(Detectors.Parse(name));
        var colour = detector.Detect(photo);
        var faces = detector.Detect(grey);
        Assert.NotEmpty(faces);
        Assert.True(faces[0].Box.IoU(colour[0].Box) > 0.8, $"{name}: the grey photo's face is not where the colour photo's is");
    }

    [Fact]
    public void Folders_of_pgm_and_tiff_are_images()
    {
        Assert.True(ImageDecoder.IsImageFile("s1/1.pgm"));
        Assert.True(ImageDecoder.IsImageFile("a.TIF"));
        Assert.False(ImageDecoder.IsImageFile("a.txt"));
    }
}
