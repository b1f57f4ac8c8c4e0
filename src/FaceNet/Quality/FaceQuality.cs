using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Quality;

/// <summary>
/// How well a face can be recognised, 0 (useless) to 1 (good), and why: the weakest of four measures,
/// each mapped onto 0–1 — its size (pixels between the eyes in the full photo), its sharpness (variance of
/// the Laplacian of the face scaled to 64×64 grey), how far it is turned away (its yaw in degrees, <see cref="HeadPose"/>;
/// without landmarks the nose's offset from the eyes' midline, in eye distances) and the detector's confidence. A face fails a floor for the reason of
/// its weakest measure (<see cref="Issue"/>).
/// </summary>
public sealed record FaceQuality(double Score, double EyeDistance, double Sharpness, double Yaw, double DetectorScore, string? Issue)
{
    /// <summary>The head's pose in degrees (<see cref="HeadPose"/>), when the face has landmarks; <see cref="Yaw"/> is the older measure in eye distances.</summary>
    public HeadPose? Pose { get; init; }

    /// <summary>The floor enrolment holds faces to by default.</summary>
    public const double DefaultFloor = 0.5;

    /// <summary>Changes whenever a ramp does, so scores cached by an evaluation are not mixed with another measure's.</summary>
    public const string Version = "3";

    // Ramps: the measure at which a face scores 0 and the one at which it scores 1 (chosen on LFW View 1 DevTrain; README).
    internal const double EyesZero = 12, EyesOne = 28;
    internal const double SharpZero = 20, SharpOne = 120;
    internal const double YawOne = 0.15, YawZero = 0.45;
    // the head's yaw in degrees (HeadPose), used when the face has a pose: 40° or less is good, 90° useless, so the default
    // floor (0.5) takes faces turned up to 65°. Chosen by FNIR at FPIR 1 % on LFW View 1's people (POSE-NOTES.md): each
    // refusal of a turned face cost more than matching it; 30–70° (up to 50° at the floor) still refused 37 of 4,992 photos.
    // Version 1 held the nose offset to 0.15–0.45 eye distances (about 21–48°): faces past about 37° were refused.
    internal const double YawDegreesOne = 40, YawDegreesZero = 90;
    internal const double DetectorZero = 0.5, DetectorOne = 0.8;

    /// <summary>
    /// The faces a detector found in <paramref name="image"/> (the photo at <paramref name="scale"/> of its full size), each
    /// with its quality and in full-size coordinates: what every front end reports for a detection.
    /// </summary>
    public static IReadOnlyList<DetectedFace> Measured(RgbImage image, IEnumerable<DetectedFace> faces, double scale = 1) =>
        [.. faces.Select(f => (scale == 1 ? f : f.Scaled(1 / scale)) with { Quality = Measure(image, f, scale) })];

    /// <summary>Measures a face found in <paramref name="image"/> (its coordinates), which is the photo at <paramref name="scale"/> of its full size.</summary>
    public static FaceQuality Measure(RgbImage image, DetectedFace face, double scale = 1)
    {
        var lm = face.Landmarks;
        double eyes, yaw = 0;
        if (lm is { Length: >= 3 })
        {
            double ex = lm[1].X - lm[0].X, ey = lm[1].Y - lm[0].Y;
            eyes = Math.Sqrt(ex * ex + ey * ey);
            if (eyes > 0)
            {
                // the nose's offset from the eyes' midpoint along the eye line, in eye distances (0: frontal)
                double mx = (lm[0].X + lm[1].X) / 2, my = (lm[0].Y + lm[1].Y) / 2;
                yaw = Math.Abs(((lm[2].X - mx) * ex + (lm[2].Y - my) * ey) / (eyes * eyes));
            }
        }
        else eyes = 0.4 * face.Box.Width; // a detector without landmarks: the usual proportion of the box
        eyes /= scale;
        double sharp = LaplacianVariance(image, face.Box);
        var pose = face.Pose;
        double turn = pose is { } p ? Ramp(-Math.Abs(p.Yaw), -YawDegreesZero, -YawDegreesOne) : Ramp(-yaw, -YawZero, -YawOne);
        Span<double> parts = [Ramp(eyes, EyesZero, EyesOne), Ramp(sharp, SharpZero, SharpOne), turn,
            Ramp(face.Score, DetectorZero, DetectorOne)];
        int weakest = 0;
        for (int i = 1; i < parts.Length; i++) if (parts[i] < parts[weakest]) weakest = i;
        // the reason is written only for a face that falls short (every detected face is measured)
        string? why = parts[weakest] >= 1 ? null : weakest switch
        {
            0 => $"small face ({eyes:F0} px between the eyes; {EyesOne:F0} or more is good)",
            1 => $"blurred or flat (sharpness {sharp:F0}; {SharpOne:F0} or more is good)",
            2 => pose is { } turned ? $"turned away (yaw {Math.Abs(turned.Yaw):F0}°; {YawDegreesOne:F0}° or less is good, {YawDegreesZero:F0}° or more is useless)"
                : $"turned away (nose {yaw:F2} eye distances off the centre; {YawOne:F2} or less is good)",
            _ => $"unsure detection (score {face.Score:F2})",
        };
        return new FaceQuality(Math.Round(parts[weakest], 3), Math.Round(eyes, 1), Math.Round(sharp, 1), Math.Round(yaw, 3), face.Score, why) { Pose = pose };
    }

    private static double Ramp(double v, double zero, double one) => Math.Clamp((v - zero) / (one - zero), 0, 1);

    /// <summary>Variance of the 4-neighbour Laplacian of the face box, scaled to 64×64 grey: low for a blurred or featureless face.</summary>
    internal static double LaplacianVariance(RgbImage image, FaceBox box)
    {
        int x = (int)Math.Floor(box.X), y = (int)Math.Floor(box.Y);
        int w = Math.Max(1, (int)Math.Ceiling(box.Width)), h = Math.Max(1, (int)Math.Ceiling(box.Height));
        const int n = 64;
        var face = image.Crop(x, y, w, h).Resize(n, n, ResizeMode.Area);
        var g = new double[n * n];
        for (int i = 0; i < g.Length; i++) g[i] = 0.299 * face.Pixels[3 * i] + 0.587 * face.Pixels[3 * i + 1] + 0.114 * face.Pixels[3 * i + 2];
        double sum = 0, sq = 0;
        int count = 0;
        for (int r = 1; r < n - 1; r++)
            for (int c = 1; c < n - 1; c++)
            {
                double l = g[(r - 1) * n + c] + g[(r + 1) * n + c] + g[r * n + c - 1] + g[r * n + c + 1] - 4 * g[r * n + c];
                sum += l;
                sq += l * l;
                count++;
            }
        double mean = sum / count;
        return sq / count - mean * mean;
    }
}
