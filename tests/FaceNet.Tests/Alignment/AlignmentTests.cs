using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Tests.Alignment;

/// <summary>The maths of alignment, not only the size of what it returns.</summary>
public sealed class AlignmentTests
{
    private static FacePoint Apply(double[] m, FacePoint p) => new((float)(m[0] * p.X + m[1] * p.Y + m[2]), (float)(m[3] * p.X + m[4] * p.Y + m[5]));

    [Fact]
    public void Similarity_recovers_a_known_rotation_scale_and_shift()
    {
        double angle = 30 * Math.PI / 180, scale = 1.7, tx = 12.5, ty = -40;
        double[] known = [scale * Math.Cos(angle), -scale * Math.Sin(angle), tx, scale * Math.Sin(angle), scale * Math.Cos(angle), ty];
        var src = AlignmentSpec.ArcFace112;
        var dst = src.Select(p => Apply(known, p)).ToArray();
        var m = FaceAligner.Similarity(src, dst);
        for (int i = 0; i < 6; i++) Assert.Equal(known[i], m[i], 4);
    }

    [Fact]
    public void Similarity_is_the_least_squares_fit_when_points_disagree()
    {
        // two points moved in opposite directions: the fit keeps the centroid and splits the difference
        FacePoint[] src = [new(0, 0), new(10, 0)];
        FacePoint[] dst = [new(0, 1), new(10, -1)];
        var m = FaceAligner.Similarity(src, dst);
        var centre = Apply(m, new FacePoint(5, 0));
        Assert.Equal(5, centre.X, 4);
        Assert.Equal(0, centre.Y, 4);
        Assert.Throws<ArgumentException>(() => FaceAligner.Similarity([new(3, 3), new(3, 3)], dst));
    }

    /// <summary>A photo whose five "landmarks" are bright dots on a dark ground, so where they land in the crop can be read back.</summary>
    private static (RgbImage Image, FacePoint[] Landmarks) Dots(double angleDeg, double scale, FacePoint offset, int width = 400, int height = 300)
    {
        double a = angleDeg * Math.PI / 180;
        var centre = new FacePoint(56, 56);
        var lm = AlignmentSpec.ArcFace112.Select(p =>
        {
            double x = (p.X - centre.X) * scale, y = (p.Y - centre.Y) * scale;
            return new FacePoint((float)(x * Math.Cos(a) - y * Math.Sin(a) + offset.X), (float)(x * Math.Sin(a) + y * Math.Cos(a) + offset.Y));
        }).ToArray();
        var px = new byte[width * height * 3];
        foreach (var p in lm)
            for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++)
            {
                int x = (int)Math.Round(p.X) + dx, y = (int)Math.Round(p.Y) + dy;
                if (x >= 0 && y >= 0 && x < width && y < height) px[(y * width + x) * 3] = px[(y * width + x) * 3 + 1] = px[(y * width + x) * 3 + 2] = 255;
            }
        return (new RgbImage(width, height, px), lm);
    }

    private static FacePoint BrightestNear(RgbImage img, FacePoint p, int r = 6)
    {
        double sx = 0, sy = 0, sw = 0;
        for (int y = Math.Max(0, (int)p.Y - r); y <= Math.Min(img.Height - 1, (int)p.Y + r); y++)
        for (int x = Math.Max(0, (int)p.X - r); x <= Math.Min(img.Width - 1, (int)p.X + r); x++)
        {
            double w = img.Pixels[(y * img.Width + x) * 3];
            sx += w * x; sy += w * y; sw += w;
        }
        return sw == 0 ? new FacePoint(float.NaN, float.NaN) : new FacePoint((float)(sx / sw), (float)(sy / sw));
    }

    [Theory]
    [InlineData(25, 2.0)]
    [InlineData(-40, 1.2)]
    [InlineData(0, 6.0)] // a face six times the crop: shrunk by area averaging first
    public void A_rotated_scaled_face_lands_on_the_template(double angle, double scale)
    {
        var (image, lm) = Dots(angle, scale, new FacePoint(1000, 800), 2000, 1600);
        var crop = FaceAligner.Align(image, new DetectedFace(new FaceBox(0, 0, 1, 1), 1, lm), AlignmentSpec.Parse("template:arcface112"), 112);
        foreach (var t in AlignmentSpec.ArcFace112)
        {
            var found = BrightestNear(crop, t);
            Assert.True(Math.Abs(found.X - t.X) < 1.0 && Math.Abs(found.Y - t.Y) < 1.0, $"dot expected at ({t.X:F1},{t.Y:F1}), found at ({found.X:F1},{found.Y:F1})");
        }
    }

    [Fact]
    public void Large_faces_are_shrunk_without_aliasing()
    {
        // a one-pixel checkerboard seen 8 times smaller: area averaging gives flat grey, point sampling would give black or white
        int n = 1024;
        var px = new byte[n * n * 3];
        for (int y = 0; y < n; y++) for (int x = 0; x < n; x++) if (((x + y) & 1) == 0) px[(y * n + x) * 3] = px[(y * n + x) * 3 + 1] = px[(y * n + x) * 3 + 2] = 255;
        var image = new RgbImage(n, n, px);
        double s = 1.0 / 8;
        var crop = FaceAligner.Warp(image, [s, 0, 0, 0, s, 0], 112);
        var values = crop.Pixels.Where((_, i) => i % 3 == 0).Select(v => (double)v).ToArray();
        Assert.InRange(values.Average(), 120, 135);
        Assert.True(values.Max() - values.Min() < 20, $"pixel values {values.Min()}–{values.Max()}: aliasing");
    }

    [Fact]
    public void The_dlib_template_is_dlibs_face_chip_at_padding_a_quarter()
    {
        // dlib's mean face, eye centres (mean of points 36–41 and 42–47) at (0.2255, 0.2160) and (0.7548, 0.2160),
        // mapped as get_face_chip_details maps them: (0.25 + p) / 1.5, times the chip size
        var t = AlignmentSpec.Parse("template:dlib").TemplatePoints(150);
        Assert.Equal((0.25 + 0.2254918) / 1.5 * 150, t[0].X, 3);
        Assert.Equal((0.25 + 0.2159903) / 1.5 * 150, t[0].Y, 3);
        Assert.Equal((0.25 + 0.7547613) / 1.5 * 150, t[1].X, 3);
        Assert.Equal((0.25 + 0.490127) / 1.5 * 150, t[2].X, 3);   // nose tip, point 30
        Assert.Equal((0.25 + 0.780233) / 1.5 * 150, t[4].Y, 3);   // mouth corner, point 54
        // the eyes are symmetric about the nose's vertical line, as in the mean face
        Assert.Equal(2 * t[2].X - t[0].X, t[1].X, 2);
    }

    [Theory]
    [InlineData("margin:10", AlignmentSpec.Kinds.Margin, 10)]
    [InlineData(" Square:1.3 ", AlignmentSpec.Kinds.Square, 1.3)]
    [InlineData("template:arcface112*0.9", AlignmentSpec.Kinds.Template, 0.9)]
    [InlineData("template:dlib", AlignmentSpec.Kinds.Template, 1)]
    public void Alignment_specs_parse_once(string text, AlignmentSpec.Kinds kind, double amount)
    {
        var spec = AlignmentSpec.Parse(text);
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(amount, spec.Amount, 4);
        Assert.Equal(text.Trim().ToLowerInvariant(), spec.Text);
    }

    [Theory]
    [InlineData("margin:-1")]
    [InlineData("square:9")]
    [InlineData("template:arcface96")]
    [InlineData("template:dlib*0")]
    [InlineData("crop")]
    public void Bad_alignment_specs_are_refused(string text) => Assert.Throws<FormatException>(() => AlignmentSpec.Parse(text));

    [Fact]
    public void The_main_face_is_the_centred_subject_not_a_larger_bystander_at_the_edge()
    {
        // LFW-like 250×250: the subject centred, a larger face cut by the right border
        var subject = new DetectedFace(new FaceBox(70, 65, 100, 130), 0.9f, null);
        var bystander = new DetectedFace(new FaceBox(140, 70, 110, 138), 0.9f, null);
        Assert.Equal(1, MainFace.Index([bystander, subject], 250, 250));
        // a larger face that is central as well wins
        var close = new DetectedFace(new FaceBox(60, 50, 140, 160), 0.9f, null);
        Assert.Equal(0, MainFace.Index([close, subject], 250, 250));
        Assert.Equal(-1, MainFace.Index([], 250, 250));
    }
}
