using System.Text.Json;
using FaceNet.Tests.Cli;
using FaceNet.Tests.Weights;
using SkiaSharp;

namespace FaceNet.Tests.EndToEnd;

[Collection("network")]
public sealed class PhotoCliTests(NetworkFixture fx)
{
    private static string Face(string name) => TestImages.DataPath("faces", name);

    [Fact]
    public void Compare_photos_out_of_the_box()
    {
        var same = CliRunner.Run("compare", "--json", Face("img1.jpg"), Face("img2.jpg"));
        Assert.Equal(0, same.ExitCode);
        using var s = JsonDocument.Parse(same.Out);
        Assert.True(s.RootElement.GetProperty("same").GetBoolean());
        var different = CliRunner.Run("compare", "--json", Face("img1.jpg"), Face("img3.jpg"));
        using var d = JsonDocument.Parse(different.Out);
        Assert.False(d.RootElement.GetProperty("same").GetBoolean());
        Assert.True(d.RootElement.GetProperty("distance").GetDouble() > s.RootElement.GetProperty("distance").GetDouble());
        var human = CliRunner.Run("compare", Face("img1.jpg"), Face("img2.jpg"));
        Assert.Contains("same person", human.Out);
    }

    [Theory]
    [InlineData("yunet")]
    [InlineData("mtcnn")]
    [InlineData("haar")]
    public void Detect_writes_json_and_an_annotated_image(string detector)
    {
        var output = Path.Combine(fx.Dir, $"annotated-{detector}.png");
        var r = CliRunner.Run("detect", "--detector", detector, "--json", "-o", output, Face("couple.jpg"));
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var faces = doc.RootElement.GetProperty("faces");
        Assert.True(faces.GetArrayLength() >= 2);
        Assert.Equal(4, faces[0].GetProperty("box").GetArrayLength());
        var landmarks = faces[0].GetProperty("landmarks");
        Assert.Equal(detector == "haar" ? JsonValueKind.Null : JsonValueKind.Array, landmarks.ValueKind);
        using var bmp = SKBitmap.Decode(output);
        Assert.Equal((640, 446), (bmp.Width, bmp.Height));
        // the boxes are drawn: the pixels on a box's top edge turned lime, the rest of the photo is as it was
        using var original = SKBitmap.Decode(Face("couple.jpg"));
        var box = faces[0].GetProperty("box").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        int lime = 0, edge = 0;
        for (int x = box[0] + 4; x < box[0] + box[2] - 4; x++, edge++)
            for (int y = Math.Max(0, box[1] - 2); y <= box[1] + 2; y++)
            {
                var c = bmp.GetPixel(x, y); // the box is drawn at its exact (sub-pixel) place, anti-aliased
                if (c.Green > 150 && c.Green > c.Red + 80 && c.Green > c.Blue + 80) { lime++; break; }
            }
        Assert.True(lime > edge * 0.8, $"{lime} of {edge} pixels on the box's top edge are lime");
        var far = original.GetPixel(2, original.Height - 3);
        var same = bmp.GetPixel(2, bmp.Height - 3);
        Assert.True(Math.Abs(far.Red - same.Red) + Math.Abs(far.Green - same.Green) + Math.Abs(far.Blue - same.Blue) < 12, "pixels away from the faces changed");
    }

    [Theory]
    [InlineData("--detector", "retinaface", "unknown detector 'retinaface'")]
    [InlineData("--alignment", "crop:3", "unknown alignment 'crop:3'")]
    public void Detector_and_alignment_are_parsed_where_they_are_given(string option, string value, string reason)
    {
        // refused while the command line is parsed: a usage error naming the option, before any model loads
        var r = CliRunner.Run("embed", option, value, Face("img1.jpg"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(option + ": " + reason, r.Err);
        Assert.Empty(r.Out);
        var e = Assert.Throws<SettingException>(() => FaceNet.Detection.Detectors.Parse("retinaface"));
        Assert.Equal(FaceNetErrorKind.Setting, e.Kind);
        Assert.Equal("detector: unknown detector 'retinaface' (expected yunet+onet, yunet, mtcnn, haar)", e.Message);
        Assert.Equal(FaceNet.Detection.DetectorKind.YuNetOnet, FaceNet.Detection.Detectors.Parse(" YuNet+ONet "));
        Assert.All(Enum.GetValues<FaceNet.Detection.DetectorKind>(), k => Assert.Equal(k, FaceNet.Detection.Detectors.Parse(FaceNet.Detection.Detectors.NameOf(k))));
    }

    [Fact]
    public void An_alignment_for_a_fused_model_is_a_setting_error()
    {
        var e = Assert.Throws<SettingException>(() => FaceRecognizer.Create(new FaceRecognizerOptions { Alignment = FaceNet.Alignment.AlignmentSpec.Parse("margin:10") }));
        Assert.Contains("a fused model's members keep their own", e.Message);
        var r = CliRunner.Run("embed", "--alignment", "margin:10", Face("img1.jpg"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: alignment: an alignment applies to a single network", r.Err);
    }

    [Fact]
    public void Embed_all_faces_lists_each_face_with_its_box()
    {
        var r = CliRunner.Run("embed", "--all-faces", "--json", Face("couple.jpg"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.OutLines.Length);
        using var first = JsonDocument.Parse(r.OutLines[0]);
        Assert.Equal(4, first.RootElement.GetProperty("box").GetArrayLength());
        Assert.Equal(256, first.RootElement.GetProperty("embedding").GetArrayLength()); // the default fused model: 128 + 128
        using var second = JsonDocument.Parse(r.OutLines[1]);
        Assert.Equal(1, second.RootElement.GetProperty("face").GetInt32());
    }

    [Fact]
    public void A_photo_without_a_face_is_an_input_error()
    {
        var noFace = Path.Combine(fx.Dir, "wall.png");
        var tiny = Path.Combine(fx.Dir, "tiny.png");
        Save(noFace, 300, 200);
        Save(tiny, 20, 20);
        var r = CliRunner.Run("compare", Face("img1.jpg"), noFace);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {noFace}: no face found", r.Err.Trim());
        var e = CliRunner.Run("embed", tiny, Face("img2.jpg"));
        Assert.Equal(2, e.ExitCode);
        Assert.Equal($"error: {tiny}: no face found", e.Err.Trim());
        Assert.Single(e.OutLines); // the good photo is still embedded
    }

    [Fact]
    public void The_seeds_pipeline_is_one_command()
    {
        // Haar cascade, margin 10, prewhiten, 160×160, Inception-ResNet-V1 from a Keras h5 (random weights here).
        var r = CliRunner.Run("embed", "--detector", "haar", "--model", fx.KerasFull, "--json", Face("img1.jpg"));
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.OutLines.Single());
        Assert.Equal(128, doc.RootElement.GetProperty("embedding").GetArrayLength());
        var box = doc.RootElement.GetProperty("box").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal([120, 77, 256, 256], box); // OpenCV's box for this photo (opencv_haar_boxes.json)
    }

    [Fact]
    public void Bench_times_the_whole_pipeline_on_photos()
    {
        var r = CliRunner.Run("bench", "images", Face("img1.jpg"), Face("img2.jpg"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("images_per_second").GetDouble() > 0);
        Assert.Equal(0, doc.RootElement.GetProperty("misses").GetInt32());
    }

    private static void Save(string path, int w, int h)
    {
        using var bmp = new SKBitmap(w, h);
        bmp.Erase(new SKColor(180, 170, 160));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
