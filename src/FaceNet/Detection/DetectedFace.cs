namespace FaceNet.Detection;

/// <summary>A point in image pixels.</summary>
public readonly record struct FacePoint(float X, float Y);

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

/// <summary>
/// A detected face: its box, the detector's confidence, and five landmarks when the detector gives them,
/// in this order: the subject's right eye, left eye, nose tip, right mouth corner, left mouth corner
/// (so the image-left eye comes first).
/// </summary>
public sealed record DetectedFace(FaceBox Box, float Score, FacePoint[]? Landmarks)
{
    /// <summary>
    /// Which network placed the landmarks: <c>yunet</c>, <c>onet</c> (MTCNN's O-Net refining another
    /// detector's face) or <c>mtcnn</c>; null without landmarks. A refining detector says <c>yunet</c> when
    /// it kept the finder's own landmarks because O-Net could not be trusted on that face.
    /// </summary>
    public string? LandmarksSource { get; init; }

    private readonly HeadPose? _pose;

    /// <summary>
    /// Which way the head is turned (<see cref="HeadPose"/>, degrees): given by the detector when it knows it,
    /// else read from the five landmarks; null without either.
    /// </summary>
    public HeadPose? Pose
    {
        get => _pose ?? HeadPose.FromLandmarks(Landmarks);
        init => _pose = value;
    }

    /// <summary>How well the face can be recognised (set by <see cref="FaceRecognizer"/>'s detection; null from a bare detector).</summary>
    public Quality.FaceQuality? Quality { get; init; }

    /// <summary>The same face in an image <paramref name="factor"/> times the size of this one's.</summary>
    public DetectedFace Scaled(double factor)
    {
        if (factor == 1) return this;
        float f = (float)factor;
        return this with
        {
            Box = new FaceBox(Box.X * f, Box.Y * f, Box.Width * f, Box.Height * f),
            Landmarks = Landmarks?.Select(p => new FacePoint(p.X * f, p.Y * f)).ToArray(),
        };
    }
}

/// <summary>Which face a command about "the face of this photo" takes when several are found.</summary>
public static class MainFace
{
    /// <summary>
    /// The index of the photo's subject: the largest face, discounted by twice its squared distance from
    /// the image centre (the rule FaceNet's LFW alignment uses), so a larger bystander at the edge of a
    /// portrait loses to the centred subject; −1 when there is no face.
    /// </summary>
    public static int Index(IReadOnlyList<DetectedFace> faces, int width, int height)
    {
        int best = -1;
        double bestScore = double.NegativeInfinity;
        for (int i = 0; i < faces.Count; i++)
        {
            var b = faces[i].Box;
            double dx = b.X + b.Width / 2 - width / 2.0, dy = b.Y + b.Height / 2 - height / 2.0;
            double score = b.Area - 2 * (dx * dx + dy * dy);
            if (score > bestScore) { bestScore = score; best = i; }
        }
        return best;
    }
}

/// <summary>Finds faces in an image.</summary>
public interface IFaceDetector : IDisposable
{
    /// <summary>Short name: yunet, mtcnn or haar.</summary>
    string Name { get; }

    /// <summary>Faces found, largest first.</summary>
    IReadOnlyList<DetectedFace> Detect(FaceNet.Imaging.RgbImage image);

    /// <summary>The <paramref name="maxFaces"/> largest faces, and how many were <paramref name="found"/>; a detector that refines each face does so for these only.</summary>
    IReadOnlyList<DetectedFace> Detect(FaceNet.Imaging.RgbImage image, int maxFaces, out int found)
    {
        var all = Detect(image);
        found = all.Count;
        return all.Count <= maxFaces ? all : [.. all.Take(maxFaces)];
    }

    /// <summary>
    /// The longer side the detector shrinks photos to, when it does (YuNet: 640); null when it looks at
    /// every pixel. A photo need not be decoded larger than this to be searched for faces.
    /// </summary>
    int? WorkingSize => null;
}

/// <summary>Greedy non-maximum suppression shared by the detectors.</summary>
public static class Nms
{
    /// <summary>Keeps the best-scoring boxes, dropping any whose overlap with a kept one exceeds <paramref name="iou"/>.</summary>
    public static List<DetectedFace> Apply(IEnumerable<DetectedFace> faces, float iou, bool minOverlap = false)
    {
        var list = faces.ToList();
        return Keep(list.Select(f => f.Box).ToList(), list.Select(f => f.Score).ToList(), iou, minOverlap).Select(i => list[i]).ToList();
    }

    /// <summary>
    /// Indices of the boxes kept, best score first. Overlap is intersection over union, or over the
    /// smaller box when <paramref name="minOverlap"/> (MTCNN's last stage).
    /// </summary>
    public static List<int> Keep(IReadOnlyList<FaceBox> boxes, IReadOnlyList<float> scores, float iou, bool minOverlap = false)
    {
        var order = Enumerable.Range(0, boxes.Count).OrderByDescending(i => scores[i]).ToList();
        var kept = new List<int>();
        foreach (var i in order)
        {
            bool suppressed = false;
            foreach (var k in kept)
            {
                float overlap = minOverlap ? IntersectionOverMin(boxes[i], boxes[k]) : boxes[i].IoU(boxes[k]);
                if (overlap > iou) { suppressed = true; break; }
            }
            if (!suppressed) kept.Add(i);
        }
        return kept;
    }

    private static float IntersectionOverMin(FaceBox a, FaceBox b)
    {
        float ix = Math.Max(0, Math.Min(a.Right, b.Right) - Math.Max(a.X, b.X));
        float iy = Math.Max(0, Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Y, b.Y));
        float m = Math.Min(a.Area, b.Area);
        return m <= 0 ? 0 : ix * iy / m;
    }

    /// <summary>Largest box first, the order every detector returns.</summary>
    public static IReadOnlyList<DetectedFace> LargestFirst(IEnumerable<DetectedFace> faces)
        => faces.OrderByDescending(f => f.Box.Area).ToList();
}
