using FaceNet.Imaging;
using SkiaSharp;

namespace FaceNet.Tests.Imaging;

/// <summary>
/// Photos decoded at the size the work needs: a large JPEG is detected on a DCT-scaled decode, its faces
/// aligned from that decode when they are large there and from a larger one when they are not.
/// </summary>
public sealed class DecodeToSizeTests
{
    private static readonly Lazy<FaceRecognizer> Scaled = new(() => FaceRecognizer.Create());
    private static readonly Lazy<FaceRecognizer> Full = new(() => FaceRecognizer.Create(new FaceRecognizerOptions { AlignmentDetail = 0 }));

    [Fact]
    public void Jpeg_decodes_to_the_smallest_eighth_that_is_large_enough_and_keeps_its_full_size()
    {
        var bytes = Encode(Face("img2.jpg").Resize(3000, 2250), SKEncodedImageFormat.Jpeg);
        var photo = ImageDecoder.DecodePhoto(bytes, "big.jpg", null, minLongSide: 1280);
        Assert.Equal((3000, 2250), (photo.Width, photo.Height));
        Assert.Equal(1500, photo.Image.Width); // 3/8 would be 1125 < 1280, so 4/8
        Assert.Equal(0.5, photo.Scale, 3);
        var (larger, scale) = photo.AtLeast(0.7);
        Assert.Equal(0.75, scale, 3);
        Assert.Equal(2250, larger.Width);
        Assert.Same(larger, photo.AtLeast(0.6).Image); // decoded once, kept
        Assert.Equal(3000, photo.AtLeast(1).Image.Width);
    }

    [Fact]
    public void Png_has_no_scaled_decode_and_is_read_whole()
    {
        var bytes = Encode(Face("img2.jpg").Resize(2400, 1800), SKEncodedImageFormat.Png);
        var photo = ImageDecoder.DecodePhoto(bytes, "big.png", null, minLongSide: 1280);
        Assert.Equal(1.0, photo.Scale);
        Assert.Equal(2400, photo.Image.Width);
    }

    [Fact]
    public void Large_face_in_a_large_jpeg_embeds_as_from_the_full_decode()
    {
        var source = Face("img2.jpg");
        var bytes = Encode(source.Resize(source.Width * 6, source.Height * 6), SKEncodedImageFormat.Jpeg);
        var reduced = Scaled.Value.Read(bytes, "big.jpg");
        var whole = Full.Value.Read(bytes, "big.jpg");
        Assert.True(reduced.Scale <= 0.5, $"decoded at {reduced.Scale}");
        Assert.Equal(1.0, whole.Scale);

        var a = Scaled.Value.EmbedMain(reduced).Face;
        var b = Full.Value.EmbedMain(whole).Face;
        // boxes come back in full-size coordinates
        Assert.True(a.Box.IoU(b.Box) > 0.9, $"boxes {a.Box} vs {b.Box}");
        double d = Math.Sqrt(a.Vector.Zip(b.Vector, (x, y) => (double)(x - y) * (x - y)).Sum());
        Assert.True(d < 0.05, $"embeddings {d:F4} apart");
        // and the verdict against another photo of the same man holds
        var other = Scaled.Value.EmbedMain(Scaled.Value.Read(TestImages.DataPath("faces", "img1.jpg"))).Face;
        Assert.True(Scaled.Value.Verify(a.Vector, other.Vector).Same);
    }

    [Fact]
    public void Small_face_in_a_large_jpeg_is_aligned_from_a_larger_decode()
    {
        // img2 (480 x 640) on a 4800 x 3600 canvas: its face is found, but spans too few pixels of the reduced decode
        var small = Face("img2.jpg");
        var canvas = new RgbImage(4800, 3600, new byte[4800 * 3600 * 3]);
        Array.Fill(canvas.Pixels, (byte)90);
        for (int y = 0; y < small.Height; y++)
            Array.Copy(small.Pixels, y * small.Width * 3, canvas.Pixels, ((1500 + y) * 4800 + 2200) * 3, small.Width * 3);
        var bytes = Encode(canvas, SKEncodedImageFormat.Jpeg);

        var recognizer = Scaled.Value;
        var photo = recognizer.Read(bytes, "crowd.jpg");
        Assert.True(photo.Scale < 0.5);
        var face = recognizer.Detect(photo)[0];
        var fullImage = ImageDecoder.Decode(bytes, "crowd.jpg");

        var aligned = recognizer.Align(photo, face).Primary;
        var reference = recognizer.Model.Align(fullImage, face).Primary;
        var fromPreview = recognizer.Model.Align(photo.Image, face.Scaled(photo.Scale)).Primary;
        double toFull = MeanAbs(aligned, reference), previewToFull = MeanAbs(fromPreview, reference);
        Assert.True(toFull < 0.5, $"aligned crop differs from the full decode's by {toFull:F2} levels");
        Assert.True(previewToFull > 3 * toFull + 0.5, $"the preview's crop ({previewToFull:F2}) would have been as good");
    }

    private static RgbImage Face(string file) => ImageDecoder.Load(TestImages.DataPath("faces", file));

    private static double MeanAbs(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        double sum = 0;
        for (int i = 0; i < a.Pixels.Length; i++) sum += Math.Abs(a.Pixels[i] - b.Pixels[i]);
        return sum / a.Pixels.Length;
    }

    private static byte[] Encode(RgbImage image, SKEncodedImageFormat format)
    {
        using var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Width * image.Height; i++, j += 4)
        {
            rgba[j] = image.Pixels[i * 3];
            rgba[j + 1] = image.Pixels[i * 3 + 1];
            rgba[j + 2] = image.Pixels[i * 3 + 2];
            rgba[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        using var data = bmp.Encode(format, 95);
        return data.ToArray();
    }
}
