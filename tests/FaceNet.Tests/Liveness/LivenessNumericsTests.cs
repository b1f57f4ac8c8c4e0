using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Liveness;
using FaceNet.Import.Weights;

namespace FaceNet.Tests.Liveness;

/// <summary>
/// Our MiniFASNet graphs (built by the project's graph builder from the .pth weights) give the reference PyTorch
/// networks' class probabilities on the same 80×80 patches, to 1e-5; and the patches are cut as the reference cuts them.
/// </summary>
public class LivenessNumericsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    [Fact]
    public void Bundled_networks_agree_with_the_reference_on_every_fixture_patch()
    {
        var model = LivenessFixtures.Bundled;
        int compared = 0;
        double worst = 0;
        var worstPer = new Dictionary<string, (double Diff, int Patches)>();
        foreach (var crop in LivenessFixtures.Reference.GetProperty("crops").EnumerateArray())
        {
            var image = LivenessFixtures.Crop(crop.GetProperty("crop").GetString()!);
            foreach (var expected in crop.GetProperty("probs").EnumerateObject())
            {
                var ours = LivenessFixtures.Network(model, expected.Name).Probabilities([image])[0];
                var theirs = LivenessFixtures.Doubles(expected.Value);
                Assert.Equal(theirs.Length, ours.Length);
                for (int c = 0; c < ours.Length; c++)
                {
                    double d = Math.Abs(ours[c] - theirs[c]);
                    worst = Math.Max(worst, d);
                    var (w, n) = worstPer.GetValueOrDefault(expected.Name);
                    worstPer[expected.Name] = (Math.Max(w, d), n + (c == 0 ? 1 : 0));
                    Assert.True(d <= Tolerance, $"{crop.GetProperty("crop")} {expected.Name} class {c}: ours {ours[c]:R}, reference {theirs[c]:R}");
                }
                compared++;
            }
        }
        Assert.True(compared >= 30, $"only {compared} patch/network pairs compared");
        foreach (var (name, (diff, patches)) in worstPer) output.WriteLine($"{name}: {patches} patches, largest class-probability difference {diff:E2}");
    }

    [Fact]
    public void Bundled_networks_describe_themselves()
    {
        var nets = LivenessFixtures.Bundled.Networks;
        Assert.Equal(["minifasnet-v2", "minifasnet-v1se"], nets.Select(n => n.Info.Name));
        Assert.Equal([2.7, 4.0], nets.Select(n => n.Info.CropScale));
        foreach (var n in nets)
        {
            Assert.Equal(80, n.Info.InputSize);
            Assert.Equal("bgr", n.Info.Channels);
            Assert.Equal("0-255", n.Info.Range);
            Assert.Equal(1, n.Info.LiveClass);
            Assert.Equal(3, n.Info.Classes.Count);
            Assert.Equal(LivenessFixtures.Bundled.Threshold, n.Info.Threshold);
        }
    }

    [Theory]
    [InlineData("tiny_2.7_80x80_MiniFASNetV2.pth", "v2", "MiniFASNetV2", 2.7)]      // legacy torch.save, names under module.
    [InlineData("tiny_4_0_0_80x80_MiniFASNetV1SE.pth", "v1se", "MiniFASNetV1SE", 4.0)] // zip format, squeeze-and-excitation
    public void Importer_builds_either_variant_from_its_state_dict(string file, string key, string variant, double scale)
    {
        var path = LivenessFixtures.Path(file);
        Assert.True(LivenessImporter.Recognizes(path));
        Assert.Equal(variant, FaceNet.Import.Networks.MiniFasNet.Variant(WeightImporter.ReadWeights(path)));
        var dir = Directory.CreateTempSubdirectory("liveness-import").FullName;
        try
        {
            var info = LivenessImporter.ImportToFile(path, System.IO.Path.Combine(dir, "net.onnx"));
            Assert.Equal(scale, info.CropScale);
            using var model = LivenessModel.Load(System.IO.Path.Combine(dir, "net.onnx"));
            int compared = 0;
            foreach (var o in LivenessFixtures.Tiny.EnumerateArray().Where(o => o.GetProperty("model").GetString() == key))
            {
                var ours = model.Networks[0].Probabilities([LivenessFixtures.Crop(o.GetProperty("crop").GetString()!)])[0];
                var theirs = LivenessFixtures.Doubles(o.GetProperty("probs"));
                for (int c = 0; c < 3; c++) Assert.True(Math.Abs(ours[c] - theirs[c]) <= Tolerance, $"{file} class {c}: {ours[c]:R} vs {theirs[c]:R}");
                compared++;
            }
            Assert.True(compared >= 3);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Patch_rule_matches_the_reference_at_and_beyond_the_edges()
    {
        int n = 0;
        foreach (var c in LivenessFixtures.CropRule.GetProperty("cases").EnumerateArray())
        {
            var b = LivenessFixtures.Ints(c.GetProperty("box"));
            var p = LivenessPatch.Of(c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32(), new FaceBox(b[0], b[1], b[2], b[3]),
                c.GetProperty("scale").GetDouble());
            Assert.Equal(LivenessFixtures.Ints(c.GetProperty("patch")), new[] { p.Left, p.Top, p.Right, p.Bottom });
            n++;
        }
        Assert.True(n >= 100);
    }

    [Fact]
    public void Patches_cut_at_the_edges_are_the_reference_pixels()
    {
        var rule = LivenessFixtures.CropRule;
        var photo = ImageDecoder.Load(TestImages.DataPath("faces", rule.GetProperty("photo").GetString()!));
        foreach (var c in rule.GetProperty("crops").EnumerateArray())
        {
            var b = LivenessFixtures.Ints(c.GetProperty("box"));
            var patch = LivenessPatch.Of(photo.Width, photo.Height, new FaceBox(b[0], b[1], b[2], b[3]), c.GetProperty("scale").GetDouble());
            Assert.Equal(LivenessFixtures.Ints(c.GetProperty("patch")), new[] { patch.Left, patch.Top, patch.Right, patch.Bottom });
            var ours = patch.Cut(photo, 80);
            var theirs = LivenessFixtures.Crop(c.GetProperty("crop").GetString()!);
            Assert.Equal(theirs.Pixels, ours.Pixels);
        }
    }

    [Fact]
    public void Fixed_point_resize_is_OpenCV_bit_for_bit_on_the_reference_patches()
    {
        // the reference's patches of whole photos (PNG, same pixels for every decoder): cut and resized by us as by cv2.resize
        foreach (var p in LivenessFixtures.Reference.GetProperty("photos").EnumerateArray().Where(p => p.GetProperty("photo").GetString()!.EndsWith(".png")))
        {
            var photo = ImageDecoder.Load(TestImages.DataPath("faces", p.GetProperty("photo").GetString()!));
            foreach (var patch in p.GetProperty("patches").EnumerateArray())
            {
                var r = LivenessFixtures.Ints(patch.GetProperty("patch"));
                var ours = new LivenessPatch(r[0], r[1], r[2], r[3], patch.GetProperty("scale").GetDouble()).Cut(photo, 80);
                Assert.Equal(LivenessFixtures.Crop(patch.GetProperty("crop").GetString()!).Pixels, ours.Pixels);
            }
        }
    }
}
