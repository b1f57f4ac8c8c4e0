using System.Text.Json;
using FaceNet.Tests.Cli;

namespace FaceNet.Tests.Liveness;

/// <summary>The liveness command line: one line per face, refusals as error lines with exit code 2, the figures of evaluate and calibrate.</summary>
public sealed class LivenessCliTests : IDisposable
{
    private readonly TempFolder _temp = new("liveness-cli");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string Sample(string name) => LivenessFixtures.Path(name);

    [Fact]
    public void Liveness_json_gives_one_object_per_face_with_the_contract_fields()
    {
        var r = CliRunner.Run("liveness", "--json", Sample("image_T1.jpg"), Sample("image_F1.jpg"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.OutLines.Length);
        using var live = JsonDocument.Parse(r.OutLines[0]);
        var e = live.RootElement;
        Assert.Equal(["file", "face", "box", "live", "score", "threshold"], e.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Sample("image_T1.jpg"), e.GetProperty("file").GetString());
        Assert.Equal(0, e.GetProperty("face").GetInt32());
        Assert.Equal(4, e.GetProperty("box").GetArrayLength());
        Assert.True(e.GetProperty("live").GetBoolean());
        Assert.True(e.GetProperty("score").GetDouble() >= e.GetProperty("threshold").GetDouble());
        using var attack = JsonDocument.Parse(r.OutLines[1]);
        Assert.False(attack.RootElement.GetProperty("live").GetBoolean());
    }

    [Fact]
    public void Liveness_text_names_each_verdict_and_a_photo_without_a_face_is_an_input_error()
    {
        var blank = Path.Combine(_dir, "blank.png");
        FaceNet.Cli.Annotate.Save(new FaceNet.Imaging.RgbImage(64, 64, new byte[64 * 64 * 3]), [], blank);
        var r = CliRunner.Run("liveness", Sample("image_F2.jpg"), blank);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("presentation attack (score", Assert.Single(r.OutLines));
        Assert.Equal($"error: {blank}: no face found", Assert.Single(r.ErrLines));
    }

    [Fact]
    public void Compare_with_liveness_refuses_an_attack_as_an_error_line_and_exit_2()
    {
        var plain = CliRunner.Run("compare", Sample("image_T1.jpg"), Sample("image_F1.jpg"));
        Assert.Equal(0, plain.ExitCode);
        var r = CliRunner.Run("compare", "--liveness", Sample("image_T1.jpg"), Sample("image_F1.jpg"));
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.ErrLines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith($"error: {Sample("image_F1.jpg")}: presentation attack", line);
        Assert.Contains("liveness score", line);
    }

    [Fact]
    public void Enroll_and_identify_with_liveness_refuse_attacks_and_take_live_faces()
    {
        var gallery = Path.Combine(_dir, "g.db");
        var enrolled = CliRunner.Run("enroll", "-g", gallery, "--name", "T", "--liveness", Sample("image_T1.jpg"));
        Assert.Equal(0, enrolled.ExitCode);
        var refused = CliRunner.Run("enroll", "-g", gallery, "--name", "F", "--liveness", Sample("image_F2.jpg"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains(refused.ErrLines, l => l.StartsWith($"error: {Sample("image_F2.jpg")}: presentation attack", StringComparison.Ordinal));
        var identify = CliRunner.Run("identify", "-g", gallery, "--liveness", Sample("image_F1.jpg"), Sample("image_T1.jpg"));
        Assert.Equal(2, identify.ExitCode);
        Assert.Contains(identify.ErrLines, l => l.StartsWith($"error: {Sample("image_F1.jpg")}: presentation attack", StringComparison.Ordinal));
        Assert.Contains(identify.OutLines, l => l.StartsWith(Sample("image_T1.jpg"), StringComparison.Ordinal) && l.Contains(": T (distance"));
    }

    [Fact]
    public void Liveness_options_are_checked_before_any_photo_is_read()
    {
        Assert.Equal(1, CliRunner.Run("compare", "--liveness-unjudged", "allow", "a.jpg", "b.jpg").ExitCode);   // without --liveness
        Assert.Equal(1, CliRunner.Run("compare", "--liveness", "--liveness-unjudged", "maybe", "a.jpg", "b.jpg").ExitCode);
        Assert.Equal(1, CliRunner.Run("compare", "--liveness", "--aligned", "a.jpg", "b.jpg").ExitCode);
        Assert.Equal(1, CliRunner.Run("liveness", "--liveness-threshold", "1.5", "a.jpg").ExitCode);
        Assert.Equal(3, CliRunner.Run("liveness", "--liveness-model", Path.Combine(_dir, "none.onnx"), Sample("image_T1.jpg")).ExitCode);
    }

    [Fact]
    public void Evaluate_liveness_reports_the_iso_rates_and_draws_the_det_plot()
    {
        var live = Directory.CreateDirectory(Path.Combine(_dir, "live")).FullName;
        var attacks = Directory.CreateDirectory(Path.Combine(_dir, "attacks")).FullName;
        File.Copy(Sample("image_T1.jpg"), Path.Combine(live, "t1.jpg"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "samples", "person_b.jpg"), Path.Combine(live, "b.jpg"));
        File.Copy(Sample("image_F1.jpg"), Path.Combine(attacks, "f1.jpg"));
        File.Copy(Sample("image_F2.jpg"), Path.Combine(attacks, "f2.jpg"));
        var plot = Path.Combine(_dir, "det.png");
        var scores = Path.Combine(_dir, "scores.csv");
        var r = CliRunner.Run("evaluate", "--liveness", "--live", live, "--attacks", attacks, "--json", "--plot", plot, "--scores", scores);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var e = doc.RootElement;
        Assert.Equal(0, e.GetProperty("apcer").GetDouble());
        Assert.Equal(0, e.GetProperty("bpcer").GetDouble());
        Assert.Equal(0, e.GetProperty("acer").GetDouble());
        Assert.Equal(2, e.GetProperty("attacks").GetInt32());
        Assert.Equal(2, e.GetProperty("bona_fide").GetInt32());
        Assert.Equal(0, e.GetProperty("bpcer_at_apcer_0.05").GetDouble());
        Assert.True(new FileInfo(plot).Length > 10_000);
        Assert.Equal(5, File.ReadAllLines(scores).Length); // header + 4 photos

        var output = Path.Combine(_dir, "calibrated");
        var c = CliRunner.Run("calibrate", "--liveness", "--live", live, "--attacks", attacks, "--apcer", "0.05", "-o", output, "--json");
        Assert.Equal(0, c.ExitCode);
        using var cal = JsonDocument.Parse(c.Out);
        double t = cal.RootElement.GetProperty("threshold").GetDouble();
        using var calibrated = FaceNet.Liveness.LivenessModel.Load(output);
        Assert.Equal(t, calibrated.Threshold);
        Assert.Equal(2, calibrated.Networks.Count);
        Assert.Contains("calibrated for APCER 0.05", calibrated.DescribeThreshold());
        var again = CliRunner.Run("liveness", "--json", "--liveness-model", output, Sample("image_F2.jpg"));
        using var line = JsonDocument.Parse(again.Out);
        Assert.Equal(t, line.RootElement.GetProperty("threshold").GetDouble());
    }

    [Fact]
    public void Import_turns_minifasnet_weights_into_a_liveness_network_and_refuses_them_as_a_face_model()
    {
        var output = Path.Combine(_dir, "net.onnx");
        var r = CliRunner.Run("import", LivenessFixtures.Path("tiny_4_0_0_80x80_MiniFASNetV1SE.pth"), "-o", output, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal("liveness", doc.RootElement.GetProperty("task").GetString());
        Assert.Equal(4.0, doc.RootElement.GetProperty("crop_scale").GetDouble());
        Assert.Equal("minifasnet-v1se", doc.RootElement.GetProperty("name").GetString());
        var asModel = CliRunner.Run("compare", "-m", LivenessFixtures.Path("tiny_2.7_80x80_MiniFASNetV2.pth"), Sample("image_T1.jpg"), Sample("image_F1.jpg"));
        Assert.Equal(3, asModel.ExitCode);
        Assert.Contains("liveness", asModel.Err);
    }
}
