namespace FaceNet.Detection;

/// <summary>
/// Which way a head is turned, in degrees, estimated from a face's five landmarks:
/// <see cref="Yaw"/> is positive when the face turns towards the image's right (the nose lies right of the
/// line from the eyes' midpoint to the mouth's), <see cref="Pitch"/> positive when it tilts up, <see cref="Roll"/>
/// positive when it leans clockwise in the image. 0, 0, 0 is a face looking into the camera, upright.
/// </summary>
/// <remarks>
/// The estimate fits a mean face under a scaled orthographic camera: in a head turned by yaw θ the nose tip,
/// which stands <see cref="NoseDepth"/> face heights (eyes' midpoint to mouth's) in front of the eyes and mouth,
/// moves off the eye–mouth midline by that depth times sin θ, and the eyes come together as cos θ; both are
/// measured in face heights, which a turn about the vertical axis leaves alone, so
/// θ = atan2(offset / <see cref="NoseDepth"/>, eye span / <see cref="EyeSpan"/>). Pitch comes from where the nose
/// sits between eyes and mouth, roll from the tilt of the eye–mouth line. Landmark networks trained on near-frontal
/// faces pull the points of a true profile towards a frontal layout, so large angles read low: measured on CFP's
/// development half, its profiles (about 60–90° in truth) read 42–74° (5th–95th percentile, median 56°) and its
/// frontal photos 0–13°; a mirrored photo reads the opposite yaw within 7° for frontal faces, 17° for profiles
/// (95th percentiles; POSE-NOTES.md). Treat yaw beyond about 45° as "profile" rather than as an exact angle.
/// </remarks>
public readonly record struct HeadPose(double Yaw, double Pitch, double Roll)
{
    /// <summary>How far the nose tip stands in front of the eyes and mouth corners, in face heights (a mean face: 26 mm over 68 mm).</summary>
    public const double NoseDepth = 0.38;

    /// <summary>The eyes' span in face heights of a frontal face (the median of CFP's and LFW's frontal photos).</summary>
    public const double EyeSpan = 0.95;

    /// <summary>Where the nose tip lies between the eyes (0) and the mouth (1) in a level frontal face (the median of the same photos).</summary>
    public const double NoseHeight = 0.57;

    /// <summary>
    /// How far apart two faces are turned, for the pose-difference rule: ||yaw a| − |yaw b|| in degrees. A face turned
    /// 30° left and one turned 30° right differ by 0: the default model averages each face with its mirror image, so to it
    /// the two look alike (on LFW View 1 DevTrain such pairs matched as well as frontal ones).
    /// </summary>
    public static double YawDifference(HeadPose a, HeadPose b) => Math.Abs(Math.Abs(a.Yaw) - Math.Abs(b.Yaw));

    /// <summary>The pose of the same head in the mirror image: yaw and roll change sign.</summary>
    public HeadPose Mirrored() => new(-Yaw, Pitch, -Roll);

    /// <summary>
    /// The pose read from five landmarks (subject's right eye, left eye, nose tip, right and left mouth corner, as
    /// <see cref="DetectedFace.Landmarks"/> orders them), rounded to 0.1°; null without five landmarks or when they
    /// are degenerate (eyes and mouth at one point).
    /// </summary>
    public static HeadPose? FromLandmarks(IReadOnlyList<FacePoint>? lm)
    {
        if (lm is not { Count: 5 }) return null;
        double ex = (lm[0].X + lm[1].X) / 2.0, ey = (lm[0].Y + lm[1].Y) / 2.0;
        double mx = (lm[3].X + lm[4].X) / 2.0, my = (lm[3].Y + lm[4].Y) / 2.0;
        double vx = mx - ex, vy = my - ey, h = Math.Sqrt(vx * vx + vy * vy);
        if (!(h > 1e-6) || !double.IsFinite(h)) return null;
        // u: the face's own "right of the image" axis, perpendicular to the eye–mouth line
        double ux = vy / h, uy = -vx / h;
        double nx = lm[2].X - ex, ny = lm[2].Y - ey;
        double offset = (nx * ux + ny * uy) / h;                                         // nose off the midline, face heights
        double span = ((lm[1].X - lm[0].X) * ux + (lm[1].Y - lm[0].Y) * uy) / h;        // eyes apart along u, face heights
        double down = (nx * vx + ny * vy) / (h * h);                                     // nose between eyes (0) and mouth (1)
        double yaw = Math.Atan2(offset / NoseDepth, Math.Max(span, 0) / EyeSpan) * 180 / Math.PI;
        double pitch = Math.Atan((NoseHeight - down) / NoseDepth) * 180 / Math.PI;
        double roll = Math.Atan2(-vx, vy) * 180 / Math.PI;
        return new HeadPose(Math.Round(Math.Clamp(yaw, -90, 90), 1), Math.Round(pitch, 1), Math.Round(roll, 1));
    }
}
