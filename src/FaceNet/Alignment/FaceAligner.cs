using System.Globalization;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Alignment;

/// <summary>
/// Crops a detected face the way a model was trained to see it, from the model's <c>facenet.alignment</c>:
/// <list type="bullet">
/// <item><c>margin:N</c>: the box grown by N/2 px on each side, clamped, resized to the model input
/// (the seed: margin 10 at 160; David Sandberg's recipe: margin 32 at 160).</item>
/// <item><c>template:arcface112</c>: a similarity transform (rotation, uniform scale, shift; least squares
/// over the five landmarks) onto the ArcFace 112×112 template, scaled to the model input.</item>
/// </list>
/// A template alignment of a face without landmarks (the Haar cascade gives none) falls back to a
/// square crop around the box.
/// </summary>
public static class FaceAligner
{
    /// <summary>ArcFace's 112×112 five-point template (right eye, left eye, nose, right mouth, left mouth).</summary>
    public static readonly FacePoint[] ArcFace112 =
    [
        new(38.2946f, 51.6963f), new(73.5318f, 51.5014f), new(56.0252f, 71.7366f), new(41.5493f, 92.3655f), new(70.7299f, 92.2041f),
    ];

    public static RgbImage Align(RgbImage image, DetectedFace face, string alignment, int size)
    {
        var spec = alignment.Trim().ToLowerInvariant();
        if (spec.StartsWith("margin:", StringComparison.Ordinal) && int.TryParse(spec[7..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var margin) && margin >= 0)
            return MarginCrop(image, face.Box, margin, size);
        if (spec.StartsWith("square:", StringComparison.Ordinal) && float.TryParse(spec[7..], NumberStyles.Float, CultureInfo.InvariantCulture, out var grow) && grow is > 0.5f and < 3f)
            return SquareCrop(image, face.Box, size, grow);
        if (spec.StartsWith("template:arcface112", StringComparison.Ordinal))
        {
            // "template:arcface112*0.8" shrinks the template about the crop centre: more context around the face.
            float zoom = 1f;
            var rest = spec["template:arcface112".Length..];
            if (rest.Length > 0 && !(rest[0] == '*' && float.TryParse(rest[1..], NumberStyles.Float, CultureInfo.InvariantCulture, out zoom) && zoom is > 0.2f and <= 2f))
                throw new FormatException($"unknown alignment '{alignment}' (expected margin:N or template:arcface112[*zoom])");
            if (face.Landmarks is { Length: 5 } lm)
                return Warp(image, Similarity(lm, ArcFace112.Select(p => new FacePoint(
                    ((p.X - 56f) * zoom + 56f) * size / 112f, ((p.Y - 56f) * zoom + 56f) * size / 112f)).ToArray()), size);
            return SquareCrop(image, face.Box, size);
        }
        throw new FormatException($"unknown alignment '{alignment}' (expected margin:N, square:F or template:arcface112[*zoom])");
    }

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

    /// <summary>Samples the output square through the inverse of <paramref name="m"/>, bilinear, black outside the image.</summary>
    public static RgbImage Warp(RgbImage image, double[] m, int size)
    {
        double a = m[0], b = m[3], tx = m[2], ty = m[5];
        double det = a * a + b * b;
        // inverse of [a −b; b a]: [a b; −b a] / det
        double ia = a / det, ib = b / det;
        var dst = new byte[size * size * 3];
        var px = image.Pixels;
        int w = image.Width, h = image.Height;
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            double u = x - tx, v = y - ty;
            double srcX = ia * u + ib * v, srcY = -ib * u + ia * v;
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
