using System.Globalization;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Alignment;

/// <summary>Crops a detected face the way a model was trained to see it (see <see cref="AlignmentSpec"/>).</summary>
public static class FaceAligner
{
    public static RgbImage Align(RgbImage image, DetectedFace face, AlignmentSpec spec, int size) => spec.Kind switch
    {
        AlignmentSpec.Kinds.Margin => MarginCrop(image, face.Box, (int)spec.Amount, size),
        AlignmentSpec.Kinds.Square => SquareCrop(image, face.Box, size, spec.Amount),
        _ => face.Landmarks is { Length: 5 } lm ? Warp(image, Similarity(lm, spec.TemplatePoints(size)), size) : SquareCrop(image, face.Box, size),
    };

    public static RgbImage MarginCrop(RgbImage image, FaceBox box, int margin, int size)
    {
        var b = box.ToArray();
        return image.CropWithMargin(b[0], b[1], b[2], b[3], margin).Resize(size, size, ResizeMode.Bilinear);
    }

    /// <summary>A square around the box centre, its side the box's longer side times <paramref name="grow"/>, clamped to the image.</summary>
    public static RgbImage SquareCrop(RgbImage image, FaceBox box, int size, float grow = 1.1f)
    {
        float side = Math.Max(box.Width, box.Height) * grow;
        float cx = box.X + box.Width / 2, cy = box.Y + box.Height / 2;
        return image.Crop((int)MathF.Round(cx - side / 2), (int)MathF.Round(cy - side / 2), (int)MathF.Round(side), (int)MathF.Round(side))
            .Resize(size, size, ResizeMode.Area);
    }

    /// <summary>
    /// The least-squares similarity transform taking <paramref name="src"/> onto <paramref name="dst"/>
    /// (Umeyama's solution without reflection), as [a, −b, tx; b, a, ty].
    /// </summary>
    public static double[] Similarity(IReadOnlyList<FacePoint> src, IReadOnlyList<FacePoint> dst)
    {
        int n = src.Count;
        double sx = 0, sy = 0, dx = 0, dy = 0;
        for (int i = 0; i < n; i++) { sx += src[i].X; sy += src[i].Y; dx += dst[i].X; dy += dst[i].Y; }
        sx /= n; sy /= n; dx /= n; dy /= n;
        double num1 = 0, num2 = 0, den = 0;
        for (int i = 0; i < n; i++)
        {
            double xs = src[i].X - sx, ys = src[i].Y - sy, xd = dst[i].X - dx, yd = dst[i].Y - dy;
            num1 += xs * xd + ys * yd;
            num2 += xs * yd - ys * xd;
            den += xs * xs + ys * ys;
        }
        if (den < 1e-12) throw new ArgumentException("landmarks are degenerate (all at one point)");
        double a = num1 / den, b = num2 / den;
        return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
    }

    /// <summary>
    /// Samples the output square through the inverse of the affine map <paramref name="m"/> (image → crop,
    /// [m0 m1 m2; m3 m4 m5]), bilinear, black outside the image. When the crop is much smaller than the
    /// face in the image, the face's region is first shrunk by area averaging, so the bilinear samples do
    /// not skip pixels (aliasing), as dlib's chip extraction does with its image pyramid.
    /// </summary>
    public static RgbImage Warp(RgbImage image, double[] m, int size)
    {
        double scale = Math.Sqrt(Math.Abs(m[0] * m[4] - m[1] * m[3])); // crop pixels per image pixel
        if (scale < 0.5)
        {
            var (src, mapped) = Shrink(image, m, size, scale);
            return WarpBilinear(src, mapped, size);
        }
        return WarpBilinear(image, m, size);
    }

    /// <summary>The region the crop covers, area-shrunk to about the crop's scale, and the map adjusted to it.</summary>
    private static (RgbImage Image, double[] Map) Shrink(RgbImage image, double[] m, int size, double scale)
    {
        var inv = Invert(m);
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var (x, y) in new[] { (0.0, 0.0), (size, 0.0), (0.0, size), (size, (double)size) })
        {
            double u = inv[0] * x + inv[1] * y + inv[2], v = inv[3] * x + inv[4] * y + inv[5];
            minX = Math.Min(minX, u); maxX = Math.Max(maxX, u); minY = Math.Min(minY, v); maxY = Math.Max(maxY, v);
        }
        int x0 = Math.Clamp((int)Math.Floor(minX) - 2, 0, image.Width - 1), y0 = Math.Clamp((int)Math.Floor(minY) - 2, 0, image.Height - 1);
        int x1 = Math.Clamp((int)Math.Ceiling(maxX) + 2, x0 + 1, image.Width), y1 = Math.Clamp((int)Math.Ceiling(maxY) + 2, y0 + 1, image.Height);
        var region = image.Crop(x0, y0, x1 - x0, y1 - y0);
        int w = Math.Max(1, (int)Math.Round(region.Width * scale)), h = Math.Max(1, (int)Math.Round(region.Height * scale));
        var small = region.Resize(w, h, ResizeMode.Area);
        double rx = (double)w / region.Width, ry = (double)h / region.Height;
        // crop = M·p with p = (q_x / rx + x0, q_y / ry + y0) for a point q of the shrunk region
        return (small, [m[0] / rx, m[1] / ry, m[0] * x0 + m[1] * y0 + m[2], m[3] / rx, m[4] / ry, m[3] * x0 + m[4] * y0 + m[5]]);
    }

    private static double[] Invert(double[] m)
    {
        double det = m[0] * m[4] - m[1] * m[3];
        if (Math.Abs(det) < 1e-12) throw new ArgumentException("the alignment transform is degenerate");
        double a = m[4] / det, b = -m[1] / det, c = -m[3] / det, d = m[0] / det;
        return [a, b, -(a * m[2] + b * m[5]), c, d, -(c * m[2] + d * m[5])];
    }

    private static RgbImage WarpBilinear(RgbImage image, double[] m, int size)
    {
        var inv = Invert(m);
        var dst = new byte[size * size * 3];
        var px = image.Pixels;
        int w = image.Width, h = image.Height;
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            double srcX = inv[0] * x + inv[1] * y + inv[2], srcY = inv[3] * x + inv[4] * y + inv[5];
            int x0 = (int)Math.Floor(srcX), y0 = (int)Math.Floor(srcY);
            double fx = srcX - x0, fy = srcY - y0;
            int o = (y * size + x) * 3;
            for (int c = 0; c < 3; c++)
            {
                double Sample(int xx, int yy) => xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : px[(yy * w + xx) * 3 + c];
                double top = Sample(x0, y0) * (1 - fx) + Sample(x0 + 1, y0) * fx;
                double bottom = Sample(x0, y0 + 1) * (1 - fx) + Sample(x0 + 1, y0 + 1) * fx;
                dst[o + c] = (byte)Math.Clamp(Math.Round(top * (1 - fy) + bottom * fy), 0, 255);
            }
        }
        return new RgbImage(size, size, dst);
    }
}
