using FaceNet.Embedding;
using FaceNet.Models;
using FaceNet.Import.Networks;
using FaceNet.Import.Weights;

namespace FaceNet.Tests.Weights;

/// <summary>
/// Each importer's ONNX model, run by ONNX Runtime, against the independent double-precision reference
/// forward pass of the same weights on the same input.
/// </summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
[Collection("network")]
public sealed class ImporterTests(NetworkFixture fx)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Keras_h5_matches_reference_forward_pass(bool fullModel)
    {
        var path = fullModel ? fx.KerasFull : fx.KerasWeightsOnly;
        var (onnx, info) = WeightImporter.Import(path);
        Assert.Equal("prewhiten", info.Preprocess);
        Assert.Equal(128, info.EmbeddingSize);
        using var embedder = FaceEmbedder.FromOnnx(onnx, path);
        AssertClose(fx.KerasReference, embedder.Embed(fx.Face));
    }

    [Fact]
    public void Torch_zip_matches_reference_forward_pass()
    {
        var (onnx, info) = WeightImporter.Import(fx.TorchZip);
        Assert.Equal("fixed", info.Preprocess);
        Assert.Equal(512, info.EmbeddingSize);
        using var embedder = FaceEmbedder.FromOnnx(onnx, fx.TorchZip);
        AssertClose(fx.TorchReference, embedder.Embed(fx.Face));
    }

    [Fact]
    public void Safetensors_matches_reference_forward_pass()
    {
        var (onnx, _) = WeightImporter.Import(fx.Safetensors);
        using var embedder = FaceEmbedder.FromOnnx(onnx, fx.Safetensors);
        AssertClose(fx.TorchReference, embedder.Embed(fx.Face));
    }

    [Fact]
    public void Torch_reader_follows_strides_of_non_contiguous_tensors()
    {
        var read = TorchReader.Read(fx.TorchZip);
        Assert.Equal(fx.Torch.Count, read.Count);
        foreach (var name in new[] { "last_linear.weight", "conv2d_1a.conv.weight", "repeat_2.3.branch1.1.bn.running_var" })
        {
            Assert.True(read.TryGet(name, out var got));
            fx.Torch.TryGet(name, out var want);
            Assert.Equal(want.Shape, got.Shape);
            Assert.Equal(want.Data, got.Data);
        }
    }

    [Fact]
    public void Batched_embeddings_equal_single_ones_and_are_unit_length()
    {
        var (onnx, _) = WeightImporter.Import(fx.Keras);
        using var embedder = FaceEmbedder.FromOnnx(onnx, "keras", new EmbedderOptions { MaxBatch = 3 });
        var faces = Enumerable.Range(0, 5).Select(i => TestImages.SyntheticFace(160, 100 + i)).ToArray();
        var batched = embedder.Embed(faces);
        for (int i = 0; i < faces.Length; i++)
        {
            var single = embedder.Embed(faces[i]);
            Assert.Equal(1.0, Math.Sqrt(single.Sum(v => (double)v * v)), 5);
            for (int j = 0; j < single.Length; j++) Assert.Equal(single[j], batched[i][j], 4);
        }
        // different inputs give different embeddings
        Assert.True(FaceNet.Matching.Distance.Euclidean(batched[0], batched[1]) > 1e-3);
    }

    [Fact]
    public void Imported_model_carries_its_metadata()
    {
        var output = Path.Combine(fx.Dir, "meta.onnx");
        WeightImporter.ImportToFile(fx.KerasFull, output, new ImportOptions { Threshold = 0.9 });
        using var embedder = FaceEmbedder.Load(output);
        Assert.Equal(160, embedder.Info.InputSize);
        Assert.Equal("prewhiten", embedder.Info.Preprocess);
        Assert.Equal("margin:10", embedder.Info.Alignment);
        Assert.Equal(128, embedder.Info.EmbeddingSize);
        Assert.Equal(FaceNet.Matching.Metric.Euclidean, embedder.Info.Metric);
        Assert.Equal(0.9, embedder.Info.Threshold);
        Assert.Contains("facenet_keras.h5", embedder.Info.Source);
    }

    [Fact]
    public void Weights_given_as_model_are_imported_on_the_fly()
    {
        // without the importer, the core library says which package reads weights
        var e = Assert.Throws<ModelException>(() => FaceEmbedder.Load(fx.Safetensors));
        Assert.Contains("FaceNet.Import", e.Reason);
        using var embedder = FaceEmbedder.Load(fx.Safetensors, new EmbedderOptions { ImportWeights = p => WeightImporter.Import(p).Onnx });
        Assert.Equal(512, embedder.Info.EmbeddingSize);
        Assert.Equal("fixed", embedder.Info.Preprocess);
        AssertClose(fx.TorchReference, embedder.Embed(fx.Face));
    }

    [Fact]
    public void Missing_and_misshapen_tensors_are_all_listed()
    {
        var tensors = NetworkFixture.All(fx.Keras)
            .Where(t => !t.Name.StartsWith("Block17_4_Branch_1_Conv2d_0b_1x7", StringComparison.Ordinal))
            .Select(t => t.Name == "Mixed_6a_Branch_0_Conv2d_1a_3x3/kernel" ? t with { Shape = [3, 3, 256, 383], Data = new float[3 * 3 * 256 * 383] } : t);
        var weights = new WeightSet("broken.h5", WeightFormat.Keras, tensors);
        var e = Assert.Throws<WeightsException>(() => WeightImporter.Import(weights));
        Assert.Contains("missing tensor 'Block17_4_Branch_1_Conv2d_0b_1x7/kernel'", e.Reason);
        Assert.Contains("missing tensor 'Block17_4_Branch_1_Conv2d_0b_1x7_BatchNorm/moving_variance'", e.Reason);
        Assert.Contains("'Mixed_6a_Branch_0_Conv2d_1a_3x3/kernel' has shape [3,3,256,383]", e.Reason);
        Assert.StartsWith("5 tensor(s)", e.Reason);
        Assert.DoesNotContain('\n', e.Reason);
    }

    [Fact]
    public void Expected_tensors_match_the_seed_network_size()
    {
        // 22.8 M parameters for the 128-d head (the published figure for Inception-ResNet-V1), BN moving statistics included.
        long parameters = InceptionResNetV1.ExpectedTensors(WeightFormat.Keras, 128)
            .Where(t => !t.Name.Contains("moving_"))
            .Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.InRange(parameters, 22_700_000, 22_900_000);
        // The same layers in both namings: PyTorch's BatchNorm has one tensor more (gamma) than the seed's Keras one.
        var keras = InceptionResNetV1.ExpectedTensors(WeightFormat.Keras, 128);
        int batchNorms = keras.Count(t => t.Name.EndsWith("_BatchNorm/beta", StringComparison.Ordinal));
        Assert.Equal(keras.Count + batchNorms, InceptionResNetV1.ExpectedTensors(WeightFormat.Torch, 512).Count);
    }

    private static void AssertClose(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        Assert.True(max < Tolerance, $"max |onnx − reference| = {max:E3} ≥ {Tolerance:E0}");
        // a meaningful vector, not all zeros
        Assert.Equal(1.0, Math.Sqrt(actual.Sum(v => (double)v * v)), 4);
    }
}
