using System.Text.Json;
using FaceNet.Tests.Cli;
using SkiaSharp;

namespace FaceNet.Tests.Evaluation;

/// <summary>The whole evaluate and calibrate commands on an LFW-shaped folder built from the committed photos.</summary>
public sealed class EvaluateCliTests : IDisposable
{
    private static readonly (string Person, string[] Files)[] People =
    [
        ("Person_A", ["img1.jpg", "img2.jpg", "img4.jpg"]),
        ("Person_B", ["img3.jpg", "img12.jpg"]),
        ("Person_C", ["img8.jpg", "img9.jpg"]),
        ("Person_D", ["img16.jpg", "img17.jpg"]),
    ];

    private readonly TempFolder _temp = new("facenet-lfw-");
    private string _dir => _temp.Path;
    private string Root => Path.Combine(_dir, "lfw");

    public EvaluateCliTests()
    {
        foreach (var (person, files) in People)
        {
            Directory.CreateDirectory(Path.Combine(Root, person));
            for (int i = 0; i < files.Length; i++)
                File.Copy(TestImages.DataPath("faces", files[i]), Path.Combine(Root, person, $"{person}_{i + 1:0000}.jpg"));
        }
        // one identity whose only photo has no face
        Directory.CreateDirectory(Path.Combine(Root, "Nobody"));
        using var bmp = new SKBitmap(200, 200);
        bmp.Erase(new SKColor(90, 120, 150));
        using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
        File.WriteAllBytes(Path.Combine(Root, "Nobody", "Nobody_0001.jpg"), data.ToArray());
    }

    public void Dispose() => _temp.Dispose();

    private string PairsTxt()
    {
        // 2 folds × (3 same + 3 different), LFW syntax
        var lines = new List<string> { "2 3",
            "Person_A 1 2", "Person_B 1 2", "Person_C 1 2",
            "Person_A 1 Person_B 1", "Person_C 2 Person_D 1", "Person_B 2 Person_D 2",
            "Person_A 2 3", "Person_D 1 2", "Person_A 1 3",
            "Person_A 3 Person_C 1", "Person_D 2 Person_A 2", "Person_B 1 Nobody 1" };
        var path = Path.Combine(_dir, "pairs.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Evaluate_on_an_lfw_shaped_folder_then_again_from_the_cache()
    {
        var pairs = PairsTxt();
        var cache = Path.Combine(_dir, "cache");
        var plot = Path.Combine(_dir, "roc.png");
        var report = Path.Combine(_dir, "report.md");
        var first = CliRunner.Run("evaluate", "--pairs", pairs, "--root", Root, "--json", "--cache", cache, "--plot", plot, "--report", report);
        Assert.Equal(0, first.ExitCode);
        using var a = JsonDocument.Parse(first.Out);
        var j = a.RootElement;
        foreach (var key in new[] { "accuracy", "accuracy_std", "val", "far", "auc", "eer", "threshold" }) Assert.True(j.TryGetProperty(key, out _), key);
        Assert.Equal(12, j.GetProperty("pairs").GetInt32());
        Assert.Equal(2, j.GetProperty("folds").GetInt32());
        Assert.Equal(1, j.GetProperty("failed_images").GetInt32());
        Assert.Equal(1, j.GetProperty("failed_pairs").GetInt32());
        Assert.Equal(1.0, j.GetProperty("accuracy").GetDouble()); // the face-less pair is a different pair: rejected, right
        Assert.Equal(1.0, j.GetProperty("auc").GetDouble());
        Assert.Contains("Nobody_0001.jpg: no face found", first.Err);
        Assert.True(new FileInfo(plot).Length > 10_000);
        using (var bmp = SKBitmap.Decode(plot)) Assert.Equal(1280, bmp.Width);
        Assert.Contains("| AUC | 1.0000 |", File.ReadAllText(report));
        Assert.Contains("facenet evaluate", File.ReadAllText(report));

        var second = CliRunner.Run("evaluate", "--pairs", pairs, "--root", Root, "--json", "--cache", cache);
        using var b = JsonDocument.Parse(second.Out);
        Assert.Equal(j.GetProperty("threshold").GetDouble(), b.RootElement.GetProperty("threshold").GetDouble());
        Assert.Equal(j.GetProperty("auc").GetDouble(), b.RootElement.GetProperty("auc").GetDouble());
        Assert.True(b.RootElement.GetProperty("seconds").GetDouble() < j.GetProperty("seconds").GetDouble());
    }

    [Fact]
    public void An_unreadable_image_is_reported_as_unreadable_not_as_faceless()
    {
        // a View 1 style file (bare count, one fold) over the folder, with one image that is not an image at all
        File.WriteAllText(Path.Combine(Root, "Person_D", "Person_D_0003.jpg"), string.Concat(Enumerable.Repeat("<html>not a photo</html>\n", 20)));
        var path = Path.Combine(_dir, "pairsDev.txt");
        File.WriteAllLines(path, ["2", "Person_A\t1\t2", "Person_D\t1\t3", "Person_A\t1\tPerson_B\t1", "Person_B\t1\tNobody\t1"]);
        var r = CliRunner.Run("evaluate", "--pairs", path, "--root", Root, "--json", "--no-cache", "--folds", "2");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(4, doc.RootElement.GetProperty("pairs").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("unreadable_images").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("faceless_images").GetInt32());
        Assert.Contains("Person_D_0003.jpg: unreadable: not a supported image", r.Err);
        Assert.Contains("Nobody_0001.jpg: no face found", r.Err);
        Assert.True(doc.RootElement.TryGetProperty("far_at_model_threshold", out _));
    }

    [Fact]
    public void Fallback_center_crop_embeds_the_face_less_image_and_says_so()
    {
        var r = CliRunner.Run("evaluate", "--pairs", PairsTxt(), "--root", Root, "--json", "--no-cache", "--fallback-center-crop");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(0, doc.RootElement.GetProperty("failed_pairs").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("center_cropped").GetInt32());
    }

    [Fact]
    public void Calibrate_writes_a_model_whose_threshold_compare_reports()
    {
        var output = Path.Combine(_dir, "calibrated.json"); // the default model is fused: a .json that names its networks
        var r = CliRunner.Run("calibrate", "--root", Root, "--far", "0.05", "--json", "--no-cache", "-o", output);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var t = doc.RootElement.GetProperty("threshold").GetDouble();
        Assert.True(doc.RootElement.GetProperty("far").GetDouble() <= 0.05);
        Assert.Equal(6, doc.RootElement.GetProperty("genuine_pairs").GetInt32()); // A: 3, B, C, D: 1 each
        var ci = doc.RootElement.GetProperty("far_ci95");
        Assert.True(ci[1].GetDouble() > ci[0].GetDouble());
        Assert.False(doc.RootElement.GetProperty("sufficient").GetBoolean()); // far too few impostors for a real FAR claim

        var cmp = CliRunner.Run("compare", "--json", "--model", output, TestImages.DataPath("faces", "img1.jpg"), TestImages.DataPath("faces", "img2.jpg"));
        Assert.Equal(0, cmp.ExitCode);
        using var c = JsonDocument.Parse(cmp.Out);
        Assert.Equal(Math.Round(t, 6), c.RootElement.GetProperty("threshold").GetDouble(), 6);
        // the model stands for the rates measured at its threshold, and says what it was calibrated for
        Assert.Equal(doc.RootElement.GetProperty("far").GetDouble(), c.RootElement.GetProperty("far").GetDouble(), 6);
        Assert.Equal(doc.RootElement.GetProperty("frr").GetDouble(), c.RootElement.GetProperty("frr").GetDouble(), 6);
        Assert.StartsWith("calibrated for FAR 0.05", c.RootElement.GetProperty("threshold_source").GetString());
    }

    [Fact]
    public void Identification_is_measured_per_gallery_size_with_fnir_fpir_ranks_and_the_rule()
    {
        // the people as strangers and as the enrolled, a second face for Person_A … D; "Nobody" has no face
        var plot = Path.Combine(_dir, "det.png");
        var report = Path.Combine(_dir, "id.md");
        var r = CliRunner.Run("evaluate", "--identification", "--root", Root, "--gallery-sizes", "2,3", "--json", "--no-cache", "--plot", plot, "--report", report);
        Assert.True(r.ExitCode == 0, r.Err);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([2, 3], lines.Select(l => l.GetProperty("gallery_size").GetInt32()));
        foreach (var l in lines)
        {
            foreach (var key in new[] { "rank1", "rank5", "fnir_at_fpir_0.01", "fnir_at_fpir_0.001", "fpir", "fnir" })
                Assert.InRange(l.GetProperty(key).GetDouble(), 0, 1);
            Assert.True(l.GetProperty("mated_searches").GetInt32() >= 2);
            Assert.True(l.GetProperty("non_mated_searches").GetInt32() >= 1);
            Assert.Equal(1.0, l.GetProperty("rank1").GetDouble()); // four distinct people: each found first
            Assert.Equal(0.0, l.GetProperty("fnir").GetDouble());  // and within the model's rule
        }
        Assert.Contains("warning: ", r.Err); // Nobody's photo has no face
        Assert.True(new FileInfo(plot).Length > 10_000);
        Assert.Contains("| gallery | mated / non-mated searches |", File.ReadAllText(report));
        // a pairs file does not go with it
        Assert.Equal(1, CliRunner.Run("evaluate", "--identification", "--root", Root, "--pairs", PairsTxt()).ExitCode);
    }
}
