using FaceNet.Detection;
using FaceNet.Imaging;
using SkiaSharp;

namespace FaceNet.Cli;

/// <summary>Draws detections onto a copy of the image and writes it as PNG.</summary>
internal static class Annotate
{
    private static readonly SKColor[] LandmarkColours = [SKColors.Red, SKColors.Blue, SKColors.Lime, SKColors.Magenta, SKColors.Yellow];

    public static void Save(RgbImage image, IReadOnlyList<DetectedFace> faces, string path)
    {
        using var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = image.Pixels[i]; rgba[j + 1] = image.Pixels[i + 1]; rgba[j + 2] = image.Pixels[i + 2]; rgba[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        using (var canvas = new SKCanvas(bmp))
        {
            float stroke = Math.Max(2, Math.Max(image.Width, image.Height) / 400f);
            using var boxPaint = new SKPaint { Color = SKColors.Lime, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
            foreach (var f in faces)
            {
                canvas.DrawRect(f.Box.X, f.Box.Y, f.Box.Width, f.Box.Height, boxPaint);
                if (f.Landmarks is null) continue;
                for (int k = 0; k < f.Landmarks.Length; k++)
                {
                    using var dot = new SKPaint { Color = LandmarkColours[k % LandmarkColours.Length], Style = SKPaintStyle.Fill, IsAntialias = true };
                    canvas.DrawCircle(f.Landmarks[k].X, f.Landmarks[k].Y, stroke * 1.5f, dot);
                }
            }
        }
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, data.AsSpan());
    }
}
