namespace FaceNet.Detection;

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
