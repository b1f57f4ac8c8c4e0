using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>
/// When a face cannot be judged, and the liveness verdict is withheld (<c>live: null</c>) instead of guessed:
/// the face is too small for the networks to see the texture of its skin or of a screen, too blurred, or the
/// patch the widest network looks at lies mostly outside the photo.
/// </summary>
/// <param name="MinFaceSide">The smallest side of the (reference) face box, in pixels of the full photo.</param>
/// <param name="MinSharpness">The least variance of the Laplacian of the face (64×64 grey, as <see cref="Quality.FaceQuality"/> measures it).</param>
/// <param name="MinInside">The least share of the widest network's patch (the box grown by its scale, before it is moved into the photo) that lies inside the photo.</param>
public sealed record LivenessLimits(double MinFaceSide, double MinSharpness, double MinInside)
{
    /// <summary>The limits the bundled pair is used with (chosen on the live photo sets and the labelled samples; see README).</summary>
    public static LivenessLimits Default { get; } = new(32, 0, 0);

    /// <summary>No face is withheld.</summary>
    public static LivenessLimits None { get; } = new(0, 0, 0);

    /// <summary>Why a face with this (reference) box in <paramref name="image"/> (the full photo) cannot be judged; null when it can.</summary>
    public string? Unjudged(RgbImage image, FaceBox box, double widestScale)
    {
        double side = Math.Min(box.Width, box.Height);
        if (side < MinFaceSide) return $"face too small ({side:F0} px; {MinFaceSide:F0} or more needed)";
        if (MinInside > 0)
        {
            double w = box.Width * widestScale, h = box.Height * widestScale;
            double cx = box.X + box.Width / 2, cy = box.Y + box.Height / 2;
            double iw = Math.Max(0, Math.Min(image.Width, cx + w / 2) - Math.Max(0, cx - w / 2));
            double ih = Math.Max(0, Math.Min(image.Height, cy + h / 2) - Math.Max(0, cy - h / 2));
            double inside = w * h <= 0 ? 0 : iw * ih / (w * h);
            if (inside < MinInside) return $"face too close to the camera or cut by the photo's edge (only {inside:P0} of the view the check needs is in the photo; {MinInside:P0} needed)";
        }
        if (MinSharpness > 0)
        {
            double sharp = Quality.FaceQuality.LaplacianVariance(image, box);
            if (sharp < MinSharpness) return $"face too blurred (sharpness {sharp:F0}; {MinSharpness:F0} or more needed)";
        }
        return null;
    }
}

/// <summary>
/// How one detector's face boxes map onto the boxes of the detector the liveness networks were trained with
/// (Minivision's Caffe SSD), whose proportions their crop scales (2.7, 4.0) assume: the centre moves by a
/// share of the box's width and height, and the sides are scaled. Measured per detector on the photo sets
/// (see README); <see cref="For"/> gives the measured map of a detector by its name.
/// </summary>
public sealed record LivenessBoxMap(string Detector, double ShiftX, double ShiftY, double ScaleWidth, double ScaleHeight)
{
    /// <summary>The box as it is (a detector that was not measured).</summary>
    public static LivenessBoxMap Identity { get; } = new("identity", 0, 0, 1, 1);

    public FaceBox Map(DetectedFace face)
    {
        var b = face.Box;
        double cx = b.X + b.Width * (0.5 + ShiftX), cy = b.Y + b.Height * (0.5 + ShiftY);
        double w = b.Width * ScaleWidth, h = b.Height * ScaleHeight;
        return new FaceBox((float)(cx - w / 2), (float)(cy - h / 2), (float)w, (float)h);
    }

    /// <summary>The measured map of a detector (<see cref="IFaceDetector.Name"/>: yunet, yunet+onet, mtcnn, haar); the identity for others.</summary>
    public static LivenessBoxMap For(string detector) => detector switch
    {
        _ => Identity,
    };
}
