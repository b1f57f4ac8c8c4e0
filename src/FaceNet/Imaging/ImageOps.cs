namespace FaceNet.Imaging;

public static class ImageOps
{
    /// <summary>The mirror image (left and right swapped), for test-time flip averaging.</summary>
    public static RgbImage FlipHorizontal(this RgbImage image)
    {
        var dst = new byte[image.Pixels.Length];
        int w = image.Width;
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < w; x++)
            Buffer.BlockCopy(image.Pixels, (y * w + x) * 3, dst, (y * w + (w - 1 - x)) * 3, 3);
        return new RgbImage(w, image.Height, dst);
    }
}
