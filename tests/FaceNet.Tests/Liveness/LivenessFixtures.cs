using System.Text.Json;
using FaceNet.Imaging;
using FaceNet.Liveness;

namespace FaceNet.Tests.Liveness;

/// <summary>
/// The fixtures written once by <c>bench/liveness/make_fixtures.py</c> from Minivision's reference code (PyTorch and
/// OpenCV): 80×80 patches as the reference cuts them and both reference networks' softmax on each, the patch rule
/// at the photo's edges, and tiny random networks of both variants with their outputs.
/// </summary>
internal static class LivenessFixtures
{
    public static string Path(params string[] parts) => TestImages.DataPath(["liveness", .. parts]);

    public static JsonElement Reference { get; } = Load("reference.json");
    public static JsonElement CropRule { get; } = Load("crop_rule.json");
    public static JsonElement Tiny { get; } = Load("tiny.json");

    private static JsonElement Load(string file) => JsonDocument.Parse(File.ReadAllText(Path(file))).RootElement;

    /// <summary>A patch as the reference wrote it (PNG: the pixels it fed its networks, BGR turned back into RGB by the PNG).</summary>
    public static RgbImage Crop(string file) => ImageDecoder.Load(Path("crops", file));

    public static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    /// <summary>The bundled pair, shared by the tests (loading it takes a few milliseconds, but once is enough).</summary>
    public static LivenessModel Bundled => _bundled.Value;
    private static readonly Lazy<LivenessModel> _bundled = new(() => LivenessModel.Load());

    public static LivenessNetwork Network(LivenessModel model, string name) => model.Networks.Single(n => n.Info.Name == name);
}
