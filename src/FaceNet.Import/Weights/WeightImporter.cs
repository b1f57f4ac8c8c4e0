using FaceNet.Import.Networks;
using FaceNet.Models;
using Google.Protobuf;

namespace FaceNet.Import.Weights;

/// <summary>
/// Turns the FaceNet weight files people have (the seed's Keras <c>facenet_keras.h5</c>, facenet-pytorch
/// <c>.pt</c> state dicts, safetensors) into a self-describing ONNX model of Inception-ResNet-V1.
/// </summary>
public static class WeightImporter
{
    /// <summary>Guesses the format from the file's first bytes, then its extension.</summary>
    public static WeightFormat DetectFormat(string path)
    {
        Span<byte> head = stackalloc byte[8];
        int n;
        try
        {
            using var s = File.OpenRead(path);
            n = s.ReadAtLeast(head, 8, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightsException(path, e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : e.Message, e);
        }
        if (n == 0) throw new WeightsException(path, "empty file");
        if (n >= 8 && head[..8].SequenceEqual<byte>([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])) return WeightFormat.Keras;
        if (n >= 4 && head[..4].SequenceEqual<byte>([0x50, 0x4b, 0x03, 0x04])) return WeightFormat.Torch;
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var first = head[..n].ToArray().FirstOrDefault(b => !char.IsWhiteSpace((char)b));
            if (first == (byte)'[') return WeightFormat.Tfjs;
            if (first == (byte)'{') return WeightFormat.TfjsGraph;
        }
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".h5" or ".hdf5" or ".keras" => WeightFormat.Keras,
            ".safetensors" => WeightFormat.Safetensors,
            ".pt" or ".pth" or ".bin" => WeightFormat.Torch,
            _ => n >= 2 && head[0] == 0x80 ? WeightFormat.Torch // a legacy torch.save pickle starts with PROTO
                 : head[0] == (byte)'{' || n >= 8 ? WeightFormat.Safetensors : throw new WeightsException(path, "unknown weight format"),
        };
    }

    public static WeightSet ReadWeights(string path, WeightFormat? format = null) => (format ?? DetectFormat(path)) switch
    {
        WeightFormat.Onnx or WeightFormat.TfjsGraph => throw new WeightsException(path, "a graph model holds a graph, not named weights: import it as a model"),
        WeightFormat.Keras => KerasH5Reader.Read(path),
        WeightFormat.Torch => TorchReader.Read(path),
        WeightFormat.Tfjs => TfjsReader.Read(path),
        _ => SafetensorsReader.Read(path),
    };

    /// <summary>The defaults that follow from where the weights come from: the seed's Keras model or facenet-pytorch.</summary>
    public static ModelInfo DefaultInfo(WeightSet weights, int embeddingSize) => weights.Format == WeightFormat.Tfjs
        ? DlibResNet.DefaultInfo with { Source = "face-api.js:" + Path.GetFileName(weights.Source) }
        : weights.Format == WeightFormat.Keras
        ? new ModelInfo { Preprocess = "prewhiten", Alignment = "margin:10", EmbeddingSize = embeddingSize, Threshold = 1.1,
            Source = "keras:" + Path.GetFileName(weights.Source), Name = "facenet-keras" }
        : new ModelInfo { Preprocess = "fixed", Alignment = "margin:32", EmbeddingSize = embeddingSize, Threshold = 1.1,
            Source = "facenet-pytorch:" + Path.GetFileName(weights.Source), Name = "facenet-pytorch" };

    /// <summary>Builds the ONNX model bytes (with metadata) from a weight set.</summary>
    public static (byte[] Onnx, ModelInfo Info) Import(WeightSet weights, ImportOptions? options = null)
    {
        options ??= new ImportOptions();
        if (weights.Format == WeightFormat.Torch && MiniFasNet.Holds(weights))
            throw new WeightsException(weights.Source, "MiniFASNet liveness weights, not a face embedder: 'facenet import' makes a liveness network of them (LivenessImporter)");
        var graph = weights.Format == WeightFormat.Tfjs ? DlibResNet.Build(weights) : InceptionResNetV1.Build(weights, options.EmbeddingSize);
        var size = weights.Format == WeightFormat.Tfjs ? 128 : options.EmbeddingSize ?? WeightLayout.For(weights.Format).InferEmbeddingSize(weights) ?? 128;
        var info = ApplyOverrides(DefaultInfo(weights, size), options);
        Embedding.Preprocessing.Parse(info.Preprocess); // refuse a bad spec before writing anything
        foreach (var (k, v) in info.ToMetadata()) graph.Metadata(k, v);
        return (graph.Build().ToByteArray(), info);
    }

    /// <summary>Reads a weight file (or an ONNX model from elsewhere) and returns the ONNX model bytes and their metadata.</summary>
    public static (byte[] Onnx, ModelInfo Info) Import(string path, ImportOptions? options = null)
    {
        if (options?.Format == WeightFormat.Onnx || (options?.Format is null && Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase)))
            return ImportOnnx(path, options ?? new ImportOptions());
        var format = options?.Format ?? DetectFormat(path);
        if (format == WeightFormat.TfjsGraph) return ImportTfjsGraph(path, options ?? new ImportOptions());
        return Import(ReadWeights(path, format), options);
    }

    /// <summary>
    /// A TF.js graph model converted to ONNX. The graph says its input size and embedding size; how faces
    /// are cropped and scaled for it does not show in the graph, so the defaults are those of most 112×112
    /// face models (ArcFace template, (x − 127.5)/128) and other models need <c>--preprocess</c>/<c>--alignment</c>.
    /// </summary>
    public static (byte[] Onnx, ModelInfo Info) ImportTfjsGraph(string path, ImportOptions options)
    {
        var result = TfjsGraphConverter.Convert(path, options.OutputNode);
        var info = ApplyOverrides(new ModelInfo
        {
            InputSize = result.InputSize, Preprocess = "fixed", Alignment = result.InputSize == 112 ? "template:arcface112" : "square:1.2",
            EmbeddingSize = result.EmbeddingSize, Threshold = 1.1, Name = Path.GetFileNameWithoutExtension(path),
            Source = $"tfjs-graph:{Path.GetFileName(path)}#{result.OutputNode}",
        }, options);
        Embedding.Preprocessing.Parse(info.Preprocess);
        foreach (var (k, v) in info.ToMetadata()) result.Graph.Metadata(k, v);
        return (result.Graph.Build().ToByteArray(), info);
    }

    /// <summary>
    /// An ONNX embedding model from elsewhere: the graph is kept as it is and the metadata given in
    /// <paramref name="options"/> is written into it, so the file then describes itself.
    /// </summary>
    public static (byte[] Onnx, ModelInfo Info) ImportOnnx(string path, ImportOptions options)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new Embedding.ModelException(path,
            e is FileNotFoundException ? "file not found" : e.Message, e); }
        ModelInfo info;
        using (var probe = Embedding.FaceEmbedder.FromOnnx(bytes, path)) info = probe.Info;
        info = ApplyOverrides(info, options) with
        {
            EmbeddingSize = options.EmbeddingSize ?? info.EmbeddingSize,
            Name = options.Name ?? (info.Name.Length > 0 ? info.Name : Path.GetFileNameWithoutExtension(path)),
            Source = info.Source.Length > 0 && info.Source != Path.GetFileName(path) ? info.Source : "onnx:" + Path.GetFileName(path),
        };
        Embedding.Preprocessing.Parse(info.Preprocess);
        return (FaceNet.Onnx.OnnxModelFile.WithMetadata(bytes, info.ToMetadata(), path), info);
    }

    /// <summary>What the command line or caller set explicitly wins over the defaults of the weights' origin.</summary>
    private static ModelInfo ApplyOverrides(ModelInfo info, ImportOptions options) => info with
    {
        Preprocess = options.Preprocess ?? info.Preprocess,
        Threshold = options.Threshold ?? info.Threshold,
        Alignment = options.Alignment ?? info.Alignment,
        InputSize = options.InputSize ?? info.InputSize,
        Metric = options.Metric ?? info.Metric,
        Name = options.Name ?? info.Name,
    };

    /// <summary>Writes an MTCNN stage's ONNX graph (see <see cref="ImportMtcnn"/>) to <paramref name="output"/>.</summary>
    public static void ImportMtcnnToFile(string path, string stage, string output) => AtomicFile.Write(output, ImportMtcnn(path, stage));

    /// <summary>MTCNN's networks, by stage: <c>pnet</c>, <c>rnet</c> or <c>onet</c> (what the bundled detector's ONNX files are built from).</summary>
    public static byte[] ImportMtcnn(string path, string stage)
    {
        var weights = ReadWeights(path);
        return stage switch
        {
            "pnet" => MtcnnNets.PNet(weights),
            "rnet" => MtcnnNets.RNet(weights),
            "onet" => MtcnnNets.ONet(weights),
            _ => throw new ArgumentException($"unknown MTCNN stage '{stage}' (pnet, rnet or onet)"),
        };
    }

    /// <summary>Imports <paramref name="path"/> and writes the model atomically to <paramref name="output"/>.</summary>
    public static ModelInfo ImportToFile(string path, string output, ImportOptions? options = null)
    {
        var (bytes, info) = Import(path, options);
        AtomicFile.Write(output, bytes);
        return info;
    }
}
