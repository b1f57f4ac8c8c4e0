using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>
/// When a face cannot be judged, and the liveness verdict is withheld (<c>live: null</c>) instead of guessed: the face
/// is too small for the networks to see the texture of skin or of a screen; the photo has no colour (a grey camera, a
/// black-and-white photo: the networks were trained on colour and call every grey face an attack); the photo shows too
/// little around the face (a face crop, or a face filling the frame: the networks' wide patches cannot be had); or the
/// face is too blurred. Measured on the live photo sets and the labelled samples (README, "Liveness").
/// </summary>
/// <param name="MinFaceSide">The smallest side of the (reference) face box, in pixels of the full photo.</param>
/// <param name="MinColour">The least mean colourfulness of the face box: the mean over its pixels of the largest difference between two channels.</param>
/// <param name="MinInside">The least share of the widest network's patch (the box grown by its scale about its centre, before it is moved into the photo) inside the photo.</param>
/// <param name="MinSharpness">The least variance of the Laplacian of the face (64×64 grey, as <see cref="Quality.FaceQuality"/> measures it); 0: not checked.</param>
public sealed record LivenessLimits(double MinFaceSide, double MinColour, double MinInside, double MinSharpness)
{
    /// <summary>
    /// The limits the bundled pair is used with: faces of 32 px or more (the 2.7× patch is then at least the networks' 80 px),
    /// colour of 6 or more (of the 582 live faces below it in the photo sets, the reference pipeline called 1 live), at least
    /// 10 % of the 4.0× patch inside the photo (below it, tight face crops, it called 58 % of CFP's 2,387 live crops live and
    /// none of the 40 grey ones: a coin toss, not a verdict); blur is not checked (nothing separated on the photos we have).
    /// </summary>
    public static LivenessLimits Default { get; } = new(32, 6, 0.10, 0);

    /// <summary>No face is withheld.</summary>
    public static LivenessLimits None { get; } = new(0, 0, 0, 0);

    /// <summary>Why a face with this (reference) box in <paramref name="image"/> (the full photo) cannot be judged; null when it can.</summary>
    public string? Unjudged(RgbImage image, FaceBox box, double widestScale)
    {
        double side = Math.Min(box.Width, box.Height);
        if (side < MinFaceSide) return $"face too small ({side:F0} px; {MinFaceSide:F0} or more needed)";
        if (MinColour > 0 && Colour(image, box) is var colour && colour < MinColour)
            return $"no colour in the photo (colourfulness {colour:F1}; {MinColour:F0} or more needed: the check judges colour photos)";
        if (MinInside > 0)
        {
            double w = box.Width * widestScale, h = box.Height * widestScale;
            double cx = box.X + box.Width / 2, cy = box.Y + box.Height / 2;
            double iw = Math.Max(0, Math.Min(image.Width, cx + w / 2) - Math.Max(0, cx - w / 2));
            double ih = Math.Max(0, Math.Min(image.Height, cy + h / 2) - Math.Max(0, cy - h / 2));
            double inside = w * h <= 0 ? 0 : iw * ih / (w * h);
            if (inside < MinInside) return $"too little around the face (a face crop, or a face filling the frame: {inside:P0} of the view the check needs is in the photo; {MinInside:P0} needed)";
        }
        if (MinSharpness > 0)
        {
            double sharp = Quality.FaceQuality.LaplacianVariance(image, box);
            if (sharp < MinSharpness) return $"face too blurred (sharpness {sharp:F0}; {MinSharpness:F0} or more needed)";
        }
        return null;
    }

    /// <summary>The mean, over the face box's pixels (every second row and column), of the largest difference between two channels: 0 for a grey photo.</summary>
    internal static double Colour(RgbImage image, FaceBox box)
    {
        int x0 = Math.Clamp((int)box.X, 0, image.Width - 1), y0 = Math.Clamp((int)box.Y, 0, image.Height - 1);
        int x1 = Math.Clamp((int)Math.Ceiling(box.Right), x0 + 1, image.Width), y1 = Math.Clamp((int)Math.Ceiling(box.Bottom), y0 + 1, image.Height);
        long sum = 0, n = 0;
        var px = image.Pixels;
        for (int y = y0; y < y1; y += 2)
            for (int x = x0; x < x1; x += 2)
            {
                int i = (y * image.Width + x) * 3, r = px[i], g = px[i + 1], b = px[i + 2];
                sum += Math.Max(Math.Max(r, g), b) - Math.Min(Math.Min(r, g), b);
                n++;
            }
        return n == 0 ? 0 : (double)sum / n;
    }
}
