using System.Text;
using System.Text.Json;
using FaceNet.Models;
using FaceNet.Tests.Weights;
using FaceNet.Import.Weights;
using SkiaSharp;

namespace FaceNet.Tests.Cli;

[Collection("network")]
public sealed class CliTests(NetworkFixture fx)
{
    [Fact]
    public void Import_writes_a_model_that_embed_and_compare_use()
    {
        var output = Path.Combine(fx.Dir, "cli-import.onnx");
        var r = CliRunner.Run("import", fx.KerasFull, "-o", output, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(128, doc.RootElement.GetProperty("embedding_size").GetInt32());
        Assert.Equal("prewhiten", doc.RootElement.GetProperty("preprocess").GetString());
        Assert.True(new FileInfo(output).Length > 80_000_000);

        var a = SavePng("a.png", TestImages.SyntheticFace(160, 1));
        var b = SavePng("b.png", TestImages.SyntheticFace(200, 2)); // resized to 160 on the way in
        var embed = CliRunner.Run("embed", "--aligned", "--json", "--model", output, a, b);
        Assert.Equal(0, embed.ExitCode);
        Assert.Equal(2, embed.OutLines.Length);
        using var line = JsonDocument.Parse(embed.OutLines[0]);
        Assert.Equal(a, line.RootElement.GetProperty("file").GetString());
        Assert.Equal(0, line.RootElement.GetProperty("face").GetInt32());
        Assert.Equal(JsonValueKind.Null, line.RootElement.GetProperty("box").ValueKind);
        var v = line.RootElement.GetProperty("embedding").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(128, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => x * x)), 4);

        var same = CliRunner.Run("compare", "--aligned", "--json", "--model", output, a, a);
        Assert.Equal(0, same.ExitCode);
        using var sameDoc = JsonDocument.Parse(same.Out);
        Assert.Equal(0.0, sameDoc.RootElement.GetProperty("distance").GetDouble(), 5);
        Assert.True(sameDoc.RootElement.GetProperty("same").GetBoolean());
        Assert.Equal(1.1, sameDoc.RootElement.GetProperty("threshold").GetDouble());

        var strict = CliRunner.Run("compare", "--aligned", "--json", "--model", output, "--threshold", "0.0001", a, b);
        using var strictDoc = JsonDocument.Parse(strict.Out);
        Assert.True(strictDoc.RootElement.GetProperty("distance").GetDouble() > 0.0001);
        Assert.False(strictDoc.RootElement.GetProperty("same").GetBoolean());

        var matrix = CliRunner.Run("compare", "--aligned", "--json", "--model", output, a, b, a);
        using var m = JsonDocument.Parse(matrix.Out);
        var d = m.RootElement.GetProperty("distances");
        Assert.Equal(3, d.GetArrayLength());
        Assert.Equal(0.0, d[0][2].GetDouble(), 5);
        Assert.Equal(d[0][1].GetDouble(), d[1][0].GetDouble(), 5);
    }

    [Fact]
    public void Weights_file_as_model_is_imported_on_the_fly_by_the_cli()
    {
        var a = SavePng("fly-a.png", TestImages.SyntheticFace(160, 3));
        var r = CliRunner.Run("embed", "--aligned", "--json", "--model", fx.Safetensors, a);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.OutLines[0]);
        Assert.Equal(512, doc.RootElement.GetProperty("embedding").GetArrayLength());
    }

    [Fact]
    public void Bad_images_are_reported_and_the_rest_embedded()
    {
        var good = SavePng("good.png", TestImages.SyntheticFace(160, 4));
        var empty = Write("empty.jpg", []);
        var text = Write("text.jpg", Encoding.UTF8.GetBytes("hello"));
        var missing = Path.Combine(fx.Dir, "nope.jpg");
        var r = CliRunner.Run("embed", "--aligned", "--json", "--model", fx.KerasOnnx, empty, good, text, missing);
        Assert.Equal(2, r.ExitCode);
        // the JSON stream has a line per image, in order: the embedding, or what was wrong
        var lines = r.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([empty, good, text, missing], lines.Select(l => l.GetProperty("file").GetString()));
        Assert.Equal([true, false, true, true], lines.Select(l => l.TryGetProperty("error", out _)));
        Assert.Equal("file not found", lines[3].GetProperty("error").GetString());
        Assert.Equal(3, r.ErrLines.Length);
        Assert.StartsWith($"error: {empty}: ", r.ErrLines[0]);
        Assert.StartsWith($"error: {text}: ", r.ErrLines[1]);
        Assert.Equal($"error: {missing}: file not found", r.ErrLines[2]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Compare_with_a_bad_image_exits_2()
    {
        var good = SavePng("good2.png", TestImages.SyntheticFace(160, 4));
        var bomb = Write("cut.png", SavePngBytes(TestImages.SyntheticFace(64, 1))[..40]);
        var r = CliRunner.Run("compare", "--aligned", "--model", fx.KerasOnnx, good, bomb);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: {bomb}: ", r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Import_of_weights_with_a_missing_layer_exits_3_listing_it()
    {
        var path = Path.Combine(fx.Dir, "missing-layer.h5");
        WeightFiles.WriteKeras(path, NetworkFixture.All(fx.Keras).Where(t => !t.Name.StartsWith("Block8_6_Conv2d_1x1/", StringComparison.Ordinal)), fullModel: true);
        var r = CliRunner.Run("import", path, "-o", Path.Combine(fx.Dir, "x.onnx"));
        AssertModelError(r, path, "missing tensor 'Block8_6_Conv2d_1x1/kernel'");
        Assert.Contains("missing tensor 'Block8_6_Conv2d_1x1/bias'", r.Err);
        Assert.False(File.Exists(Path.Combine(fx.Dir, "x.onnx")));
    }

    [Fact]
    public void Import_of_a_wrong_shape_exits_3()
    {
        var path = Path.Combine(fx.Dir, "wrong-shape.safetensors");
        WeightFiles.WriteSafetensors(path, NetworkFixture.All(fx.Torch).Select(t => t.Name == "last_bn.running_var" ? t with { Shape = [511], Data = t.Data[..511] } : t));
        var r = CliRunner.Run("import", path, "-o", Path.Combine(fx.Dir, "y.onnx"));
        AssertModelError(r, path, "'last_bn.running_var' has shape [511], the network needs [512]");
    }

    [Theory]
    [InlineData("h5", "truncated")]
    [InlineData("pt", "truncated")]
    [InlineData("safetensors", "truncated")]
    public void Import_of_a_truncated_file_exits_3(string kind, string reason)
    {
        var source = kind switch { "h5" => fx.KerasFull, "pt" => fx.TorchZip, _ => fx.Safetensors };
        var path = Path.Combine(fx.Dir, "truncated." + kind);
        using (var s = File.OpenRead(source))
        {
            var bytes = new byte[s.Length / 3];
            s.ReadExactly(bytes);
            File.WriteAllBytes(path, bytes);
        }
        var r = CliRunner.Run("import", path, "-o", Path.Combine(fx.Dir, "z.onnx"));
        AssertModelError(r, path, reason);
    }

    [Fact]
    public void Import_of_a_non_hdf5_file_exits_3()
    {
        var path = Write("html-page.h5", Encoding.UTF8.GetBytes("<html>404 not found</html>"));
        var r = CliRunner.Run("import", path, "-o", Path.Combine(fx.Dir, "w.onnx"));
        AssertModelError(r, path, "not an HDF5 file");
    }

    [Fact]
    public void Pickle_naming_a_forbidden_global_is_refused_without_running_it()
    {
        var path = Path.Combine(fx.Dir, "evil.pt");
        var marker = Path.Combine(fx.Dir, "pwned");
        // an unpickler that ran the file would create the marker (Python's pickle does: checked once)
        WeightFiles.WriteTorchZip(path, NetworkFixture.All(fx.Torch).Take(3), extraGlobal: "os.system", payload: $"touch '{marker}'");
        var r = CliRunner.Run("import", path, "-o", Path.Combine(fx.Dir, "v.onnx"));
        AssertModelError(r, path, "forbidden global 'os.system'");
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Missing_model_exits_3_and_usage_errors_exit_1()
    {
        var a = SavePng("u.png", TestImages.SyntheticFace(160, 9));
        var r = CliRunner.Run("embed", "--aligned", "--model", Path.Combine(fx.Dir, "absent.onnx"), a);
        Assert.Equal(3, r.ExitCode);
        Assert.StartsWith("error: ", r.Err);
        Assert.Contains("absent.onnx", r.Err);

        Assert.Equal(1, CliRunner.Run().ExitCode);
        Assert.Equal(1, CliRunner.Run("compare", "--aligned", a).ExitCode);
        Assert.Equal(1, CliRunner.Run("import", fx.KerasFull).ExitCode); // -o is required
        Assert.Equal(1, CliRunner.Run("frobnicate").ExitCode);
    }

    [Fact]
    public void Not_an_onnx_model_exits_3()
    {
        var path = Write("model.onnx", Encoding.UTF8.GetBytes("definitely not protobuf"));
        var a = SavePng("n.png", TestImages.SyntheticFace(160, 9));
        var r = CliRunner.Run("embed", "--aligned", "--model", path, a);
        Assert.Equal(3, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {path}: ", r.Err);
    }

    [Fact]
    public void Bench_reports_faces_per_second_as_json()
    {
        var r = CliRunner.Run("bench", "network", "--model", fx.KerasOnnx, "--batch", "2", "--seconds", "0", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.OutLines.Single());
        Assert.True(doc.RootElement.GetProperty("faces_per_second").GetDouble() > 0);
        Assert.Equal(2, doc.RootElement.GetProperty("batch").GetInt32());
        Assert.Equal(fx.KerasOnnx, doc.RootElement.GetProperty("model").GetString());
        Assert.True(doc.RootElement.GetProperty("peak_memory_mb").GetDouble() > 0);
    }

    private static void AssertModelError(CliRunner.Result r, string file, string reason)
    {
        Assert.Equal(3, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {file}: ", r.Err);
        Assert.Contains(reason, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(fx.Dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string SavePng(string name, FaceNet.Imaging.RgbImage image) => Write(name, SavePngBytes(image));

    private static byte[] SavePngBytes(FaceNet.Imaging.RgbImage image)
    {
        using var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        {
            var (r, g, b) = image[x, y];
            bmp.SetPixel(x, y, new SKColor(r, g, b));
        }
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
