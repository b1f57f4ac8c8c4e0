using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>
/// The part of a photo a liveness network looks at: pixel columns <see cref="Left"/>…<see cref="Right"/> and
/// rows <see cref="Top"/>…<see cref="Bottom"/>, both ends included, and the scale of the face box it stands for
/// (<see cref="Scale"/>, below the network's own when the photo is too small for it).
/// </summary>
public readonly record struct LivenessPatch(int Left, int Top, int Right, int Bottom, double Scale)
{
    public int Width => Right - Left + 1;
    public int Height => Bottom - Top + 1;

    /// <summary>
    /// The reference's rule (Minivision's <c>CropImage</c>): the box grown <paramref name="scale"/> times about its
    /// centre — at most as much as keeps it within the photo's width − 1 and height − 1 — then moved, not cut,
    /// to lie inside the photo, its corners truncated to whole pixels.
    /// </summary>
    public static LivenessPatch Of(int width, int height, FaceBox box, double scale)
    {
        double w = Math.Max(box.Width, 1e-3), h = Math.Max(box.Height, 1e-3);
        scale = Math.Min((height - 1) / h, Math.Min((width - 1) / w, scale));
        double nw = w * scale, nh = h * scale;
        double cx = box.X + w / 2, cy = box.Y + h / 2;
        double left = cx - nw / 2, top = cy - nh / 2, right = cx + nw / 2, bottom = cy + nh / 2;
        if (left < 0) { right -= left; left = 0; }
        if (top < 0) { bottom -= top; top = 0; }
        if (right > width - 1) { left -= right - width + 1; right = width - 1; }
        if (bottom > height - 1) { top -= bottom - height + 1; bottom = height - 1; }
        // truncation toward zero, as Python's int(); a photo of one pixel leaves nothing to grow
        int l = Math.Max(0, (int)left), t = Math.Max(0, (int)top);
        return new LivenessPatch(l, t, Math.Max(l, (int)right), Math.Max(t, (int)bottom), scale);
    }

    /// <summary>The patch cut from <paramref name="image"/> and resized to <paramref name="size"/>² as OpenCV's INTER_LINEAR does, bit for bit.</summary>
    public RgbImage Cut(RgbImage image, int size)
    {
        var crop = image.Crop(Left, Top, Math.Min(Width, image.Width - Left), Math.Min(Height, image.Height - Top));
        return FixedPointResize.Resize(crop, size, size);
    }
}
