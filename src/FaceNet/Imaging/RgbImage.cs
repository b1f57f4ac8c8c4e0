namespace FaceNet.Imaging;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B.</summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "image dimensions must be positive");
        if (pixels.Length != checked(width * height * 3)) throw new ArgumentException("pixel buffer does not match the dimensions", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>R,G,B bytes, <c>(y * Width + x) * 3</c>.</summary>
    public byte[] Pixels { get; }

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>The part of the image inside the rectangle, clamped to the image (never empty).</summary>
    public RgbImage Crop(int x, int y, int width, int height)
    {
        int x0 = Math.Clamp(x, 0, Width - 1), y0 = Math.Clamp(y, 0, Height - 1);
        int x1 = Math.Clamp(x + width, x0 + 1, Width), y1 = Math.Clamp(y + height, y0 + 1, Height);
        int w = x1 - x0, h = y1 - y0;
        var dst = new byte[w * h * 3];
        for (int row = 0; row < h; row++)
            Buffer.BlockCopy(Pixels, ((y0 + row) * Width + x0) * 3, dst, row * w * 3, w * 3);
        return new RgbImage(w, h, dst);
    }

    /// <summary>The rectangle as it is, the parts of it outside the image black.</summary>
    public RgbImage CropPadded(int x, int y, int width, int height)
    {
        var dst = new byte[checked(width * height * 3)];
        int x0 = Math.Max(x, 0), x1 = Math.Min(x + width, Width);
        int y0 = Math.Max(y, 0), y1 = Math.Min(y + height, Height);
        if (x1 > x0)
            for (int row = y0; row < y1; row++)
                Buffer.BlockCopy(Pixels, (row * Width + x0) * 3, dst, ((row - y) * width + x0 - x) * 3, (x1 - x0) * 3);
        return new RgbImage(width, height, dst);
    }

    /// <summary>
    /// The seed's crop: the box grown by <c>margin / 2</c> pixels on each side (integer division, as
    /// <c>img[y-margin//2 : y+h+margin//2, …]</c>), clamped to the image where the seed would wrap around.
    /// </summary>
    public RgbImage CropWithMargin(int x, int y, int width, int height, int margin)
        => Crop(x - margin / 2, y - margin / 2, width + margin / 2 * 2, height + margin / 2 * 2);

    public RgbImage Resize(int width, int height, ResizeMode mode = ResizeMode.Bilinear)
    {
        if (width == Width && height == Height) return this;
        if (mode == ResizeMode.Area && width <= Width && height <= Height) return ResizeArea(width, height);
        return ResizeBilinear(width, height);
    }

    private RgbImage ResizeBilinear(int width, int height)
    {
        var dst = new byte[width * height * 3];
        double sx = (double)Width / width, sy = (double)Height / height;
        var x0s = new int[width];
        var x1s = new int[width];
        var fxs = new float[width];
        for (int x = 0; x < width; x++)
        {
            double fx = (x + 0.5) * sx - 0.5;
            int ix = (int)Math.Floor(fx);
            float f = (float)(fx - ix);
            if (ix < 0) { ix = 0; f = 0; }
            if (ix >= Width - 1) { ix = Width - 1; f = 0; }
            x0s[x] = ix;
            x1s[x] = Math.Min(ix + 1, Width - 1);
            fxs[x] = f;
        }
        for (int y = 0; y < height; y++)
        {
            double fy = (y + 0.5) * sy - 0.5;
            int iy = (int)Math.Floor(fy);
            float gy = (float)(fy - iy);
            if (iy < 0) { iy = 0; gy = 0; }
            if (iy >= Height - 1) { iy = Height - 1; gy = 0; }
            int iy1 = Math.Min(iy + 1, Height - 1);
            int r0 = iy * Width * 3, r1 = iy1 * Width * 3, o = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                int a = r0 + x0s[x] * 3, b = r0 + x1s[x] * 3, c = r1 + x0s[x] * 3, d = r1 + x1s[x] * 3;
                float fx = fxs[x];
                for (int ch = 0; ch < 3; ch++)
                {
                    float top = Pixels[a + ch] + (Pixels[b + ch] - Pixels[a + ch]) * fx;
                    float bottom = Pixels[c + ch] + (Pixels[d + ch] - Pixels[c + ch]) * fx;
                    dst[o + x * 3 + ch] = (byte)Math.Clamp(MathF.Round(top + (bottom - top) * gy), 0, 255);
                }
            }
        }
        return new RgbImage(width, height, dst);
    }

    private RgbImage ResizeArea(int width, int height)
    {
        // Separable box filter with fractional edge weights: each output pixel averages exactly the source
        // area it covers. Vertical pass on whole rows (vectorised), then horizontal pass per pixel.
        var (yStart, yCount, yW) = AreaWeights(Height, height);
        var (xStart, xCount, xW) = AreaWeights(Width, width);
        int rowLen = Width * 3;
        var srcRow = new float[rowLen];
        var acc = new float[rowLen];
        var result = new byte[width * height * 3];
        int maxY = yCount.Max(), maxX = xCount.Max();
        for (int y = 0; y < height; y++)
        {
            Array.Clear(acc);
            for (int k = 0; k < yCount[y]; k++)
            {
                var src = Pixels.AsSpan((yStart[y] + k) * rowLen, rowLen);
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<byte, float>(src, srcRow);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(srcRow, yW[y * maxY + k], acc, acc);
            }
            int o = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                float r = 0, g = 0, b = 0;
                int s0 = xStart[x] * 3;
                for (int k = 0; k < xCount[x]; k++)
                {
                    float w = xW[x * maxX + k];
                    int s = s0 + k * 3;
                    r += acc[s] * w; g += acc[s + 1] * w; b += acc[s + 2] * w;
                }
                result[o++] = (byte)Math.Clamp(MathF.Round(r), 0, 255);
                result[o++] = (byte)Math.Clamp(MathF.Round(g), 0, 255);
                result[o++] = (byte)Math.Clamp(MathF.Round(b), 0, 255);
            }
        }
        return new RgbImage(width, height, result);
    }

    /// <summary>For each output index: first source index, number of sources, and their weights (row-major, padded to the widest).</summary>
    private static (int[] Start, int[] Count, float[] Weight) AreaWeights(int src, int dst)
    {
        double scale = (double)src / dst;
        int max = (int)Math.Ceiling(scale) + 1;
        var start = new int[dst];
        var count = new int[dst];
        var weight = new float[dst * max];
        for (int d = 0; d < dst; d++)
        {
            double begin = d * scale, end = (d + 1) * scale;
            int first = (int)Math.Floor(begin), last = Math.Min((int)Math.Ceiling(end), src);
            start[d] = first;
            for (int s = first; s < last; s++)
            {
                double overlap = Math.Min(end, s + 1) - Math.Max(begin, s);
                if (overlap <= 1e-9) { if (count[d] == 0) start[d] = s + 1; continue; }
                weight[d * max + count[d]++] = (float)(overlap / scale);
            }
        }
        // keep the padded layout consistent for callers that index by the widest count
        int widest = count.Max();
        if (widest == max) return (start, count, weight);
        var packed = new float[dst * widest];
        for (int d = 0; d < dst; d++) Array.Copy(weight, d * max, packed, d * widest, count[d]);
        return (start, count, packed);
    }

}
