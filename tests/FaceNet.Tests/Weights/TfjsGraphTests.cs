using System.Text.Json;
using System.Text.Json.Nodes;
using FaceNet.Import.Weights;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Tests.Weights;

/// <summary>The TF.js graph-model importer against TensorFlow.js's own output for the same graph and input.</summary>
public sealed class TfjsGraphTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-tfjs-graph-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string Graph => TestImages.DataPath("tfjs-graph", "graph.json");

    private static float[] Run(byte[] onnx, float[] input, long[] shape)
    {
        using var session = new InferenceSession(onnx);
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var outputs = session.Run(new RunOptions(), [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Converted_graph_computes_what_tensorflow_js_computes()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(TestImages.DataPath("tfjs-graph", "graph_tfjs_output.json")));
        var expected = reference.RootElement.GetProperty("output").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var input = new float[2 * 16 * 16 * 3];
        for (int i = 0; i < input.Length; i++) input[i] = (i * 37 + i / 7 * 11) % 256;

        var result = TfjsGraphConverter.Convert(Graph);
        Assert.Equal("embedding", result.OutputNode); // the widest vector output, not the 4-d softmax beside it
        Assert.Equal((16, 12), (result.InputSize, result.EmbeddingSize));
        var actual = Run(Google.Protobuf.MessageExtensions.ToByteArray(result.Graph.Build()), input, [2, 16, 16, 3]);

        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 2e-6, $"output {i}: TF.js {expected[i]}, ONNX {actual[i]}");
    }

    [Fact]
    public void A_chosen_output_node_is_converted_instead()
    {
        var result = TfjsGraphConverter.Convert(Graph, "extra");
        Assert.Equal(4, result.EmbeddingSize);
        var e = Assert.Throws<WeightsException>(() => TfjsGraphConverter.Convert(Graph, "no/such/node"));
        Assert.Contains("no node 'no/such/node'", e.Reason);
    }

    [Fact]
    public void Import_writes_a_self_describing_face_model()
    {
        var output = Path.Combine(_dir, "m.onnx");
        var info = WeightImporter.ImportToFile(Graph, output, new ImportOptions { Preprocess = "raw", Alignment = "square:1.2", Threshold = 0.9 });
        Assert.Equal(WeightFormat.TfjsGraph, WeightImporter.DetectFormat(Graph));
        using var embedder = FaceNet.Embedding.FaceEmbedder.Load(output);
        Assert.Equal((16, 12, "raw", "square:1.2", 0.9), (embedder.Info.InputSize, embedder.Info.EmbeddingSize, embedder.Info.Preprocess, embedder.Info.Alignment, embedder.Info.Threshold));
        Assert.Equal(info.Source, embedder.Info.Source);
        var v = embedder.Embed(TestImages.SyntheticFace(40, 1));
        Assert.Equal(12, v.Length);
    }

    private string Mutated(Action<JsonObject> change, bool copyWeights = true)
    {
        var node = JsonNode.Parse(File.ReadAllText(Graph))!.AsObject();
        change(node);
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".json");
        File.WriteAllText(path, node.ToJsonString());
        if (copyWeights) File.Copy(TestImages.DataPath("tfjs-graph", "graph.bin"), Path.Combine(_dir, "graph.bin"), overwrite: true);
        return path;
    }

    [Fact]
    public void Unsupported_ops_are_named_together_before_anything_is_built()
    {
        var path = Mutated(g =>
        {
            foreach (var n in g["modelTopology"]!["node"]!.AsArray())
                if (n!["name"]!.GetValue<string>() is "leaky" or "elu") n["op"] = n["name"]!.GetValue<string>() == "leaky" ? "Cumsum" : "Erf";
        });
        var e = Assert.Throws<WeightsException>(() => WeightImporter.Import(path));
        Assert.Contains("does not convert: Cumsum, Erf", e.Reason);
    }

    [Fact]
    public void Broken_graph_files_are_refused_with_the_reason()
    {
        var noWeights = Mutated(g => g["weightsManifest"]![0]!["paths"] = new JsonArray("missing.bin"));
        Assert.Contains("'missing.bin' not found", Assert.Throws<WeightsException>(() => WeightImporter.Import(noWeights)).Reason);

        var truncated = Path.Combine(_dir, "t", "graph.json");
        Directory.CreateDirectory(Path.GetDirectoryName(truncated)!);
        File.Copy(Graph, truncated);
        File.WriteAllBytes(Path.Combine(_dir, "t", "graph.bin"), File.ReadAllBytes(TestImages.DataPath("tfjs-graph", "graph.bin"))[..1000]);
        Assert.Contains("truncated", Assert.Throws<WeightsException>(() => WeightImporter.Import(truncated)).Reason);

        var hostile = Mutated(g => g["weightsManifest"]![0]!["weights"]![0]!["shape"] = new JsonArray(40000, 40000));
        Assert.Contains("runs past the end", Assert.Throws<WeightsException>(() => WeightImporter.Import(hostile)).Reason);

        var twoInputs = Mutated(g => g["modelTopology"]!["node"]!.AsArray().Add(JsonNode.Parse("""{"name":"second","op":"Placeholder","attr":{}}""")));
        Assert.Contains("one image input", Assert.Throws<WeightsException>(() => WeightImporter.Import(twoInputs)).Reason);
    }
}
