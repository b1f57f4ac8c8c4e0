namespace FaceNet.Detection;

/// <summary>An axis-aligned box in image pixels.</summary>
public readonly record struct FaceBox(float X, float Y, float Width, float Height)
{
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);
    public float Right => X + Width;
    public float Bottom => Y + Height;

    public float IoU(FaceBox other)
    {
        float ix = Math.Max(0, Math.Min(Right, other.Right) - Math.Max(X, other.X));
        float iy = Math.Max(0, Math.Min(Bottom, other.Bottom) - Math.Max(Y, other.Y));
        float inter = ix * iy;
        float union = Area + other.Area - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>[x, y, w, h] rounded to whole pixels, as the CLI's JSON reports boxes.</summary>
    public int[] ToArray() => [(int)MathF.Round(X), (int)MathF.Round(Y), (int)MathF.Round(Width), (int)MathF.Round(Height)];
}
