namespace FaceNet.Detection;

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
