using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Matching;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;
using FaceNet.Onnx.Proto;
using FaceNet.Tests.Cli;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Tests.Embedding;

/// <summary>int8 quantization: the QDQ rewrite on a generated network, and <c>facenet quantize</c> on the bundled models.</summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class QuantizeTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-quant-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    /// <summary>conv 3→8 + ReLU, conv 8→16 stride 2 + ReLU, global pool, dense 16→8: random weights, seeded.</summary>
    private static byte[] SmallNetwork()
    {
        var rng = new Random(7);
        float[] W(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        var g = new OnnxGraphBuilder("small");
        var x = g.Input("input", -1, 3, 32, 32);
        var c1 = g.Relu(g.Conv(x, g.Initializer("w1", W(8 * 3 * 9, 0.4), 8, 3, 3, 3), g.Initializer("b1", W(8, 0.1), 8), 3, 3, 1, 1, 1));
        var c2 = g.Relu(g.Conv(c1, g.Initializer("w2", W(16 * 8 * 9, 0.2), 16, 8, 3, 3), g.Initializer("b2", W(16, 0.1), 16), 3, 3, 2, 1, 1));
        var pooled = g.Flatten(g.GlobalAveragePool(c2));
        var y = g.Gemm(pooled, g.Initializer("w3", W(8 * 16, 0.5), 8, 16), g.Initializer("b3", W(8, 0.1), 8), transB: true, name: "embedding");
        g.Output(y, -1, 8);
        return g.ToBytes();
    }

    private static (float[] Data, long[] Shape) Batch(Random rng, int n)
        => (Enumerable.Range(0, n * 3 * 32 * 32).Select(i => (float)(Math.Sin(i * 0.37 + rng.NextDouble()) + (rng.NextDouble() - 0.5) * 0.5)).ToArray(), [n, 3, 32, 32]);

    private static float[] Run(byte[] onnx, (float[] Data, long[] Shape) input)
    {
        using var session = new InferenceSession(onnx);
        using var value = OrtValue.CreateTensorValueFromMemory(input.Data, input.Shape);
        using var run = new RunOptions();
        using var outputs = session.Run(run, ["input"], [value], [session.OutputMetadata.Keys.First()]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Convolutions_become_int8_with_per_channel_scales_and_answer_as_the_float_network()
    {
        var float32 = SmallNetwork();
        var rng = new Random(1);
        var (int8, report) = Int8Quantizer.Quantize(float32, Enumerable.Range(0, 6).Select(_ => Batch(rng, 8)).ToList());

        var model = ModelProto.Parser.ParseFrom(int8);
        Assert.Equal(2, report.QuantizedNodes); // both convolutions; the embedding layer stays float
        var weights = model.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.Dims.Count == 4).ToList();
        Assert.Equal(2, weights.Count);
        Assert.Equal([8L, 16L], weights.Select(w => w.Dims[0]).Order());
        // one scale per output channel, int32 biases
        Assert.Contains(model.Graph.Initializer, t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Count == 1 && t.Dims[0] == 16 && t.Name.EndsWith("_wscale"));
        Assert.Equal(2, model.Graph.Initializer.Count(t => t.DataType == (int)TensorProto.Types.DataType.Int32 && t.Name.EndsWith("_int32")));
        // the ReLUs are folded into uint8 quantization with zero point 0
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "Relu");
        Assert.Contains(model.Graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "w1" || t.Name == "w2"); // float weights gone

        // on inputs it was not calibrated on, the int8 network gives nearly the float network's vectors
        var test = Batch(new Random(99), 4);
        var a = Run(float32, test);
        var b = Run(int8, test);
        for (int i = 0; i < 4; i++)
        {
            var u = a.AsSpan(i * 8, 8).ToArray();
            var v = b.AsSpan(i * 8, 8).ToArray();
            double cos = u.Zip(v, (p, q) => (double)p * q).Sum() / Math.Sqrt(u.Sum(p => (double)p * p) * v.Sum(q => (double)q * q));
            Assert.True(cos > 0.999, $"face {i}: cosine {cos:F5} between float and int8 outputs");
        }
    }

    [Fact]
    public void Quantize_cli_writes_an_int8_model_that_keeps_the_verdicts()
    {
        var output = Path.Combine(_dir, "mfn-int8.onnx");
        var r = CliRunner.Run("quantize", "mobilefacenet", "-o", output, "--calibration", TestImages.DataPath("faces"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("int8 of mobilefacenet", r.Out);

        using (var session = new InferenceSession(output))
        {
            var meta = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal("mobilefacenet-int8", meta["facenet.name"]);
            Assert.Contains("int8", meta["facenet.quantized"]);
            Assert.False(meta.ContainsKey("facenet.identity_aliases")); // not the float model's galleries
        }

        using var float32 = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet" });
        using var int8 = FaceRecognizer.Create(new FaceRecognizerOptions { Model = output });
        Assert.NotEqual(float32.Model.Identity, int8.Model.Identity);
        string[] photos = ["img1.jpg", "img2.jpg", "img4.jpg", "img3.jpg", "img12.jpg", "img8.jpg", "img9.jpg"];
        var e32 = photos.Select(p => float32.EmbedMain(float32.Read(TestImages.DataPath("faces", p))).Face.Vector).ToArray();
        var e8 = photos.Select(p => int8.EmbedMain(int8.Read(TestImages.DataPath("faces", p))).Face.Vector).ToArray();
        for (int i = 0; i < photos.Length; i++)
        {
            double moved = Distance.Euclidean(e32[i], e8[i]);
            Assert.True(moved < 0.25, $"{photos[i]}: int8 embedding {moved:F3} from the float one");
            for (int j = i + 1; j < photos.Length; j++)
                Assert.Equal(float32.Verify(e32[i], e32[j]).Same, int8.Verify(e8[i], e8[j]).Same);
        }
    }

    [Fact]
    public void A_fused_model_is_quantized_member_by_member_into_a_json_beside_its_networks()
    {
        var bad = CliRunner.Run("quantize", "default", "-o", Path.Combine(_dir, "d.onnx"), "--calibration", TestImages.DataPath("faces"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains(".json", bad.Err);

        var json = Path.Combine(_dir, "d.json");
        var r = CliRunner.Run("quantize", "default", "-o", json, "--calibration", TestImages.DataPath("faces"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(_dir, "d.mobilefacenet.onnx")));
        Assert.True(File.Exists(Path.Combine(_dir, "d.faceapi-resnet.onnx")));
        using var model = FaceModel.Load(json);
        Assert.True(model.IsFused);
        Assert.Equal("fused-int8", model.Info.Name);
        using var fused = FaceModel.Load(null);
        Assert.Equal(fused.Info.Threshold, model.Info.Threshold);
        Assert.Equal(fused.Info.EmbeddingSize, model.Info.EmbeddingSize);
    }

    [Fact]
    public void Calibration_photos_without_faces_are_refused_naming_the_problem()
    {
        var empty = Path.Combine(_dir, "none");
        Directory.CreateDirectory(empty);
        File.Copy(TestImages.DataPath("images", "pattern.bmp"), Path.Combine(empty, "pattern.bmp"));
        var r = CliRunner.Run("quantize", "mobilefacenet", "-o", Path.Combine(_dir, "x.onnx"), "--calibration", empty);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("face", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "x.onnx")));
    }

    [Fact]
    public void Bundled_default_int8_gives_the_default_models_verdicts_on_real_photos()
    {
        using var float32 = FaceRecognizer.Create();
        using var int8 = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "default-int8" });
        Assert.Equal("default-int8", int8.Model.Info.Name);
        Assert.Equal(float32.Threshold, int8.Threshold);
        Assert.NotEqual(float32.Model.Identity, int8.Model.Identity);
        (string File, string Person)[] photos = [("img1.jpg", "A"), ("img2.jpg", "A"), ("img4.jpg", "A"), ("img3.jpg", "B"), ("img12.jpg", "B"), ("img8.jpg", "C"), ("img9.jpg", "C"), ("img16.jpg", "D"), ("img17.jpg", "D")];
        var e32 = photos.Select(p => float32.EmbedMain(float32.Read(TestImages.DataPath("faces", p.File))).Face.Vector).ToArray();
        var e8 = photos.Select(p => int8.EmbedMain(int8.Read(TestImages.DataPath("faces", p.File))).Face.Vector).ToArray();
        for (int i = 0; i < photos.Length; i++)
        {
            Assert.True(Distance.Euclidean(e32[i], e8[i]) < 0.15, $"{photos[i].File}: {Distance.Euclidean(e32[i], e8[i]):F3} from the float embedding");
            for (int j = i + 1; j < photos.Length; j++)
                Assert.True(int8.Verify(e8[i], e8[j]).Same == (photos[i].Person == photos[j].Person), $"{photos[i].File} vs {photos[j].File}");
        }
    }
}
