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

    // Medians over the photo sets of README (LFW View 1, the celebrities, deepface's, face_recognition's, facenet-pytorch's and
    // face-api.js's photos, and CFP but for Haar; faces whose box touches the photo's edge left out): the reference box's centre lies 5.7 % (YuNet)
    // or 6.6 % (MTCNN) of the box's height lower, it is 14–15 % wider and 11 % less tall. Mapped, the median size error to the
    // reference box falls from 13 % to 3 % and the vertical centre error from 6.5 % to 1.5 % of the box (bench/liveness/box_mapping.py).
    /// <summary>YuNet's boxes (the default detector, yunet+onet, keeps them), 6,363 faces.</summary>
    public static LivenessBoxMap YuNet { get; } = new("yunet", -0.0100, 0.0571, 1.1382, 0.8880);

    /// <summary>MTCNN's boxes, 6,131 faces.</summary>
    public static LivenessBoxMap Mtcnn { get; } = new("mtcnn", -0.0048, 0.0660, 1.1474, 0.8857);

    /// <summary>The Haar cascade's boxes (the seed's detector), 5,120 faces: about the reference's size, their centre 9 % of the height higher.</summary>
    public static LivenessBoxMap Haar { get; } = new("haar", -0.0054, 0.0921, 0.9492, 0.9754);

    /// <summary>The measured map of a detector (<see cref="IFaceDetector.Name"/>: yunet, yunet+onet, mtcnn, haar); the identity for others.</summary>
    public static LivenessBoxMap For(string detector) => detector switch
    {
        "yunet" or "yunet+onet" => YuNet,
        "mtcnn" => Mtcnn,
        "haar" => Haar,
        _ => Identity,
    };
}
