using System.Globalization;
using FaceNet.Detection;

namespace FaceNet.Alignment;

/// <summary>
/// How a model wants faces cropped, parsed once from its <c>facenet.alignment</c> text:
/// <list type="bullet">
/// <item><c>margin:N</c>: the box grown by N/2 px on each side, clamped, resized to the model input
/// (the seed: margin 10 at 160; David Sandberg's recipe: margin 32 at 160).</item>
/// <item><c>square:F</c>: a square around the box centre, F times the box's longer side.</item>
/// <item><c>template:arcface112</c>: a similarity transform (least squares over the five landmarks) onto
/// the ArcFace 112×112 template, scaled to the model input.</item>
/// <item><c>template:dlib</c>: dlib's face chip (<c>get_face_chip_details</c>, padding 0.25): the same
/// transform onto dlib's mean face shape, for networks trained on dlib's chips.</item>
/// </list>
/// A template may carry a zoom (<c>template:arcface112*0.9</c>: the template shrunk about the crop centre,
/// more context). A template alignment of a face without landmarks (the Haar cascade gives none) falls
/// back to a square crop around the box.
/// </summary>
public sealed record AlignmentSpec
{
    public enum Kinds { Margin, Square, Template }

    public Kinds Kind { get; private init; }

    /// <summary>Margin in pixels (<see cref="Kinds.Margin"/>), growth factor (<see cref="Kinds.Square"/>) or zoom (<see cref="Kinds.Template"/>).</summary>
    public float Amount { get; private init; }

    /// <summary>The template's name: <c>arcface112</c> or <c>dlib</c>.</summary>
    public string Template { get; private init; } = "";

    /// <summary>The text form, as written into model metadata.</summary>
    public string Text { get; private init; } = "";

    public override string ToString() => Text;

    /// <summary>Parses an alignment text; a <see cref="FormatException"/> says what is accepted.</summary>
    public static AlignmentSpec Parse(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        string kind = colon < 0 ? s : s[..colon], arg = colon < 0 ? "" : s[(colon + 1)..];
        switch (kind)
        {
            case "margin" when int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var margin) && margin <= 1000:
                return new AlignmentSpec { Kind = Kinds.Margin, Amount = margin, Text = s };
            case "square" when float.TryParse(arg, NumberStyles.Float, CultureInfo.InvariantCulture, out var grow) && grow is > 0.5f and < 3f:
                return new AlignmentSpec { Kind = Kinds.Square, Amount = grow, Text = s };
            case "template":
            {
                var parts = arg.Split('*');
                float zoom = 1f;
                if (Templates.ContainsKey(parts[0]) && (parts.Length == 1 || (parts.Length == 2
                    && float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out zoom) && zoom is > 0.2f and <= 2f)))
                    return new AlignmentSpec { Kind = Kinds.Template, Template = parts[0], Amount = zoom, Text = s };
                break;
            }
        }
        throw new FormatException($"unknown alignment '{text}' (expected margin:N, square:F, template:arcface112 or template:dlib, a template optionally *zoom)");
    }

    /// <summary>ArcFace's 112×112 five-point template (right eye, left eye, nose, right mouth, left mouth).</summary>
    public static readonly FacePoint[] ArcFace112 =
    [
        new(38.2946f, 51.6963f), new(73.5318f, 51.5014f), new(56.0252f, 71.7366f), new(41.5493f, 92.3655f), new(70.7299f, 92.2041f),
    ];

    /// <summary>
    /// dlib's face chip at padding 0.25, as five points on a unit square: the centres of the eyes
    /// (means of dlib's mean-face points 36–41 and 42–47), the nose tip (30) and the mouth corners
    /// (48, 54), each mapped as <c>get_face_chip_details</c> maps them: (padding + p) / (1 + 2·padding).
    /// The mean face shape is dlib's (Davis King, Boost Software License).
    /// </summary>
    public static readonly FacePoint[] Dlib = DlibChip(0.25f);

    private static FacePoint[] DlibChip(float padding)
    {
        // dlib's mean face shape (unit square) at the five points our detectors give.
        (double X, double Y)[] mean =
        [
            (0.2254918, 0.2159903), // subject's right eye: mean of points 36-41
            (0.7547613, 0.2159903), // left eye: 42-47
            (0.490127, 0.515625),   // nose tip: 30
            (0.254149, 0.780233),   // right mouth corner: 48
            (0.726104, 0.780233),   // left mouth corner: 54
        ];
        return mean.Select(p => new FacePoint((float)((padding + p.X) / (1 + 2 * padding)), (float)((padding + p.Y) / (1 + 2 * padding)))).ToArray();
    }

    private static readonly Dictionary<string, (FacePoint[] Points, float Side)> Templates = new(StringComparer.Ordinal)
    {
        ["arcface112"] = (ArcFace112, 112f),
        ["dlib"] = (Dlib, 1f),
    };

    /// <summary>The template's five points for a crop of <paramref name="size"/> pixels, zoom applied about the centre.</summary>
    public FacePoint[] TemplatePoints(int size)
    {
        var (points, side) = Templates[Template];
        float c = side / 2, k = size / side;
        return points.Select(p => new FacePoint(((p.X - c) * Amount + c) * k, ((p.Y - c) * Amount + c) * k)).ToArray();
    }
}
