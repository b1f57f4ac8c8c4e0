using FaceNet.Imaging;

namespace FaceNet.Tests;

internal static class TestImages
{
    /// <summary>A deterministic smooth pattern with noise: stands in for a face crop where the content does not matter.</summary>
    public static RgbImage SyntheticFace(int size, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        for (int c = 0; c < 3; c++)
        {
            double v = 128 + 60 * Math.Sin(x / (7.0 + c)) + 40 * Math.Cos(y / (5.0 + 2 * c)) + rng.Next(-20, 21);
            px[(y * size + x) * 3 + c] = (byte)Math.Clamp(v, 0, 255);
        }
        return new RgbImage(size, size, px);
    }

    public static string DataPath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "data", .. parts]);
}
