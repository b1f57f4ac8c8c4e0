using System.Globalization;
using FaceNet.Imaging;

namespace FaceNet.Embedding;

/// <summary>
/// Turns an RGB face crop into the network's float input (NCHW, RGB order).
/// <list type="bullet">
/// <item><c>prewhiten</c>: the seed's <c>pre_process</c>: (x − mean) / max(std, 1/√size) over the whole image.</item>
/// <item><c>fixed</c>: (x − 127.5) / 128, facenet-pytorch's <c>fixed_image_standardization</c>.</item>
/// <item><c>raw</c>: the pixel values 0–255 as they are (graphs that normalise inside).</item>
/// <item><c>meanstd:r,g,b:r,g,b</c>: per-channel (x − mean) / std; values ≤ 1 are in 0–1 units (x/255, e.g. ImageNet's), larger ones in 0–255 units.</item>
/// </list>
/// A <c>:bgr</c> suffix (<c>raw:bgr</c>, <c>meanstd:…:bgr</c>) is for networks trained on OpenCV's BGR order:
/// the channels are reversed first, so per-channel values are given in the network's order.
/// </summary>
public abstract class Preprocessing
{
    public abstract string Spec { get; }

    /// <summary>Writes the image into <paramref name="chw"/> (3·H·W floats, channel-major).</summary>
    public abstract void Apply(RgbImage image, Span<float> chw);

    public static Preprocessing Parse(string spec)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s.EndsWith(":bgr", StringComparison.Ordinal)) return new Bgr(Parse(s[..^4]), s);
        if (s == "prewhiten") return new Prewhiten();
        if (s == "fixed") return new Affine("fixed", [127.5f, 127.5f, 127.5f], [128f, 128f, 128f]);
        if (s == "raw") return new Affine("raw", [0f, 0f, 0f], [1f, 1f, 1f]);
        if (s.StartsWith("meanstd:", StringComparison.Ordinal))
        {
            var parts = s.Split(':');
            if (parts.Length == 3)
            {
                var mean = Floats(parts[1]);
                var std = Floats(parts[2]);
                if (mean is { Length: 3 } && std is { Length: 3 } && std.All(v => v > 0))
                {
                    bool unit = mean.All(v => v <= 1f) && std.All(v => v <= 1f);
                    float k = unit ? 255f : 1f;
                    return new Affine(spec.Trim(), mean.Select(v => v * k).ToArray(), std.Select(v => v * k).ToArray());
                }
            }
        }
        throw new FormatException($"unknown preprocessing '{spec}' (expected prewhiten, fixed, raw or meanstd:r,g,b:r,g,b)");
    }

    private static float[]? Floats(string csv)
    {
        var items = csv.Split(',');
        var result = new float[items.Length];
        for (int i = 0; i < items.Length; i++)
            if (!float.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i])) return null;
        return result;
    }

    private sealed class Bgr(Preprocessing inner, string spec) : Preprocessing
    {
        public override string Spec => spec;

        public override void Apply(RgbImage image, Span<float> chw)
        {
            var px = image.Pixels;
            var swapped = new byte[px.Length];
            for (int i = 0; i < px.Length; i += 3)
            {
                swapped[i] = px[i + 2];
                swapped[i + 1] = px[i + 1];
                swapped[i + 2] = px[i];
            }
            inner.Apply(new RgbImage(image.Width, image.Height, swapped), chw);
        }
    }

    private sealed class Prewhiten : Preprocessing
    {
        public override string Spec => "prewhiten";

        public override void Apply(RgbImage image, Span<float> chw)
        {
            var px = image.Pixels;
            int plane = image.Width * image.Height;
            double sum = 0, sumSq = 0;
            foreach (var v in px) { sum += v; sumSq += (double)v * v; }
            double mean = sum / px.Length;
            double std = Math.Sqrt(Math.Max(sumSq / px.Length - mean * mean, 0));
            double adj = Math.Max(std, 1.0 / Math.Sqrt(px.Length));
            for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                chw[c * plane + i] = (float)((px[i * 3 + c] - mean) / adj);
        }
    }

    private sealed class Affine(string spec, float[] mean, float[] std) : Preprocessing
    {
        public override string Spec => spec;

        public override void Apply(RgbImage image, Span<float> chw)
        {
            var px = image.Pixels;
            int plane = image.Width * image.Height;
            for (int c = 0; c < 3; c++)
            {
                float m = mean[c], inv = 1f / std[c];
                var dst = chw.Slice(c * plane, plane);
                for (int i = 0; i < plane; i++) dst[i] = (px[i * 3 + c] - m) * inv;
            }
        }
    }
}
