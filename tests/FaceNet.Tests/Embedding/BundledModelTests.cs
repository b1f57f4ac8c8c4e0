using System.Text.Json;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Models;

namespace FaceNet.Tests.Embedding;

public sealed class BundledModelTests
{
    /// <summary>The input pattern of faceapi_tfjs_reference.cjs, pixel for pixel.</summary>
    private static RgbImage ReferencePattern()
    {
        var px = new byte[150 * 150 * 3];
        for (int y = 0; y < 150; y++)
        for (int x = 0; x < 150; x++)
        for (int c = 0; c < 3; c++)
            px[(y * 150 + x) * 3 + c] = (byte)Math.Clamp(Math.Floor(128 + 60 * Math.Sin(x / (7.0 + c)) + 40 * Math.Cos(y / (5.0 + 2 * c)) + (x * 31 + y * 17 + c * 7) % 41 - 20), 0, 255);
        return new RgbImage(150, 150, px);
    }

    [Fact]
    public void Faceapi_network_built_from_tfjs_weights_matches_tensorflow_js()
    {
        var path = BundledModels.Find("faceapi-resnet");
        Assert.NotNull(path);
        var reference = JsonSerializer.Deserialize<double[]>(File.ReadAllText(TestImages.DataPath("reference", "faceapi_tfjs_descriptor.json")))!;
        double norm = Math.Sqrt(reference.Sum(v => v * v));
        using var embedder = FaceEmbedder.Load(path!);
        Assert.Equal(150, embedder.Info.InputSize);
        var ours = embedder.Embed(ReferencePattern());
        Assert.Equal(128, ours.Length);
        double max = reference.Select((v, i) => Math.Abs(v / norm - ours[i])).Max();
        Assert.True(max < 1e-4, $"max |onnx − tfjs| = {max:E3}");
    }

    [Fact]
    public void Faceapi_network_matches_face_api_js_itself_on_real_faces()
    {
        // face-api.js's own loader de-quantises the uint8 weights; a wrong scale or offset would show on real faces
        using var doc = JsonDocument.Parse(File.ReadAllText(TestImages.DataPath("reference", "faceapi_tfjs_real_faces.json")));
        using var embedder = FaceEmbedder.Load(BundledModels.ResolveEmbedder("faceapi-resnet"));
        var faces = doc.RootElement.EnumerateObject().ToList();
        Assert.Equal(3, faces.Count);
        var ours = new Dictionary<string, float[]>();
        foreach (var face in faces)
        {
            var reference = face.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            double norm = Math.Sqrt(reference.Sum(v => v * v));
            ours[face.Name] = embedder.Embed(ImageDecoder.Load(TestImages.DataPath("reference", "faceapi-chips", face.Name)));
            double max = reference.Select((v, i) => Math.Abs(v / norm - ours[face.Name][i])).Max();
            Assert.True(max < 1e-5, $"{face.Name}: max |ours − face-api.js| = {max:E3}");
        }
        // and the faces are told apart at the model's threshold: two people, three photos
        Assert.True(FaceNet.Matching.Distance.Euclidean(ours["person_a_1_0.png"], ours["person_b_0.png"]) > embedder.Info.Threshold);
    }

    [Theory]
    [InlineData("mobilefacenet", 112, "template:arcface112")]
    [InlineData("faceapi-resnet", 150, "template:dlib")]
    public void Bundled_embedders_describe_themselves(string name, int size, string alignment)
    {
        using var embedder = FaceEmbedder.Load(BundledModels.ResolveEmbedder(name));
        Assert.Equal(size, embedder.Info.InputSize);
        Assert.Equal(alignment, embedder.Info.Alignment);
        Assert.Equal(128, embedder.Info.EmbeddingSize);
        Assert.InRange(embedder.Info.Threshold, 0.2, 1.5);
        // each bundled threshold says what it stands for: how it was chosen and the error rates there
        Assert.Contains("LFW View 1 DevTrain", embedder.Info.Calibration);
        Assert.NotNull(embedder.Info.ThresholdFar);
        Assert.NotNull(embedder.Info.ThresholdFrr);
    }

    [Fact]
    public void The_default_model_is_the_fused_one_and_says_what_its_threshold_stands_for()
    {
        using var model = FaceNet.Embedding.FaceModel.Load(null);
        Assert.Equal("fused", model.Info.Name);
        Assert.Equal(["mobilefacenet", "faceapi-resnet"], model.Members.Select(m => m.Embedder.Info.Name));
        Assert.Equal(["template:arcface112", "template:dlib"], model.Members.Select(m => m.Alignment.Text));
        Assert.All(model.Members, m => Assert.True(m.Flip));
        Assert.Equal(256, model.Info.EmbeddingSize);
        Assert.Contains("LFW View 1 DevTrain", model.Info.Calibration);
        Assert.InRange(model.Info.ThresholdFar!.Value, 0, 0.01);
    }
}
