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

    [Theory]
    [InlineData("mobilefacenet", 112, "template:arcface112")]
    [InlineData("faceapi-resnet", 150, "margin:10")]
    public void Bundled_embedders_describe_themselves(string name, int size, string alignment)
    {
        using var embedder = FaceEmbedder.Load(BundledModels.ResolveEmbedder(name));
        Assert.Equal(size, embedder.Info.InputSize);
        Assert.Equal(alignment, embedder.Info.Alignment);
        Assert.Equal(128, embedder.Info.EmbeddingSize);
        Assert.InRange(embedder.Info.Threshold, 0.2, 1.5);
    }
}
