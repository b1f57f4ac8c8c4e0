using FaceNet.Imaging;
using FaceNet.Models;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Embedding;

/// <summary>
/// Computes L2-normalised face embeddings with an ONNX model on ONNX Runtime: resize to the model
/// input, preprocess, batched inference, L2 normalisation (the seed's, epsilon 1e-10).
/// Thread-safe: one instance can serve concurrent callers.
/// </summary>
public sealed class FaceEmbedder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly bool _nhwc;
    private readonly int _batchLimit;
    private readonly Preprocessing _preprocessing;
    private readonly int _maxBatch;
    private readonly Func<string, byte[]>? _importWeights;

    private FaceEmbedder(InferenceSession session, string name, ModelInfo info, EmbedderOptions options, string graphHash)
    {
        _session = session;
        ModelPath = name;
        var input = session.InputMetadata.First();
        _inputName = input.Key;
        _outputName = session.OutputMetadata.First().Key;
        var dims = input.Value.Dimensions;
        if (dims.Length != 4) throw new ModelException(name, $"input '{_inputName}' has {dims.Length} dimensions; an image model takes 4 (N,C,H,W or N,H,W,C)");
        if (dims[1] != 3 && dims[3] != 3) throw new ModelException(name,
            $"input '{_inputName}' is [{string.Join(",", dims)}]: not a batch of RGB images (3 channels first or last)");
        _nhwc = dims[3] == 3 && dims[1] != 3;
        _batchLimit = dims[0] > 0 ? dims[0] : int.MaxValue;
        int fixedSize = _nhwc ? dims[1] : dims[2];
        if (fixedSize > 0 && options.InputSize is null) info = info with { InputSize = fixedSize };
        int size = EmbeddingWidth(session, name);
        info = info with
        {
            Preprocess = options.Preprocess ?? info.Preprocess,
            InputSize = options.InputSize ?? info.InputSize,
            Threshold = options.Threshold ?? info.Threshold,
            PoseThresholds = options.Threshold is null ? info.PoseThresholds : null,
            ThresholdFar = options.Threshold is null ? info.ThresholdFar : null,
            ThresholdFrr = options.Threshold is null ? info.ThresholdFrr : null,
            Calibration = options.Threshold is null ? info.Calibration : "",
            Metric = options.Metric ?? info.Metric,
        };
        try { _preprocessing = Preprocessing.Parse(info.Preprocess); }
        catch (FormatException e) { throw new ModelException(name, e.Message, e); }
        _maxBatch = Math.Max(1, options.MaxBatch);
        Info = info;
        if (size == 0) // a free output size: one run on a blank face says it
        {
            int s = info.InputSize;
            try { size = Embed(new RgbImage(s, s, new byte[s * s * 3])).Length; }
            catch (OnnxRuntimeException e) { throw new ModelException(name, $"does not run on a {s}×{s} face: " + FirstLine(e.Message), e); }
            if (size is < 8 or > 65536) throw new ModelException(name, $"not a face embedder: it gives {size} value(s) per face (an embedding has 8 to 65536)");
        }
        info = info with { EmbeddingSize = size };
        _importWeights = options.ImportWeights;
        Info = info;
        Identity = $"{graphHash}|{_preprocessing.Spec}|{info.InputSize}";
        IdentityAliases = info.IdentityAliases;
    }

    public ModelInfo Info { get; }

    /// <summary>The network's graph and weights (metadata excluded), preprocessing and input size: what its embeddings depend on.</summary>
    public string Identity { get; }

    /// <summary>Gallery bindings of earlier releases that this network answers to (<c>facenet.identity_aliases</c>).</summary>
    public IReadOnlyList<string> IdentityAliases { get; }

    /// <summary>The file (or description) the model came from.</summary>
    public string ModelPath { get; }

    /// <summary>
    /// Loads an <c>.onnx</c> model, or weights imported on the fly by <see cref="EmbedderOptions.ImportWeights"/>.
    /// Throws a <see cref="FaceNetException"/> (<see cref="ModelException"/>, or the importer's) naming the file and the reason.
    /// </summary>
    public static FaceEmbedder Load(string path, EmbedderOptions? options = null)
    {
        options ??= new EmbedderOptions();
        if (!File.Exists(path)) throw new ModelException(path, Directory.Exists(path) ? "is a directory, not a model" : "model file not found");
        if (!Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            if (options.ImportWeights is null)
                throw new ModelException(path, "not an .onnx model; weights files are imported by the FaceNet.Import package (facenet import, or EmbedderOptions.ImportWeights)");
            return FromOnnx(options.ImportWeights(path), path, options);
        }
        byte[] onnx;
        try { onnx = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ModelException(path, e.Message, e); }
        return FromOnnx(onnx, path, options);
    }

    /// <summary>Creates an embedder from ONNX bytes; <paramref name="name"/> is used in messages.</summary>
    public static FaceEmbedder FromOnnx(byte[] onnx, string name, EmbedderOptions? options = null)
    {
        options ??= new EmbedderOptions();
        var graphHash = GraphHash(onnx, name);
        using var ours = options.SessionOptions is null ? OrtOptions.Create(options.Threads) : null;
        InferenceSession session;
        try { session = new InferenceSession(onnx, options.SessionOptions ?? ours!); }
        catch (OnnxRuntimeException e) { throw new ModelException(name, "not a loadable ONNX model: " + FirstLine(e.Message), e); }
        try
        {
            if (Liveness.LivenessInfo.IsLiveness(session.ModelMetadata.CustomMetadataMap))
                throw new ModelException(name, "a liveness network (facenet.task = liveness): it tells live faces from photos and screens, it does not embed faces; use it as the liveness model");
            ModelInfo info;
            try { info = ModelInfo.FromMetadata(session.ModelMetadata.CustomMetadataMap,
                new ModelInfo { Source = Path.GetFileName(name), Name = Path.GetFileNameWithoutExtension(name) }); }
            catch (Exception e) when (e is FormatException or OverflowException) { throw new ModelException(name,
                "unreadable facenet.* metadata: " + e.Message, e); }
            return new FaceEmbedder(session, name, info, options, graphHash);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The unit-length embedding of one face crop (resized to the model input if needed).</summary>
    public float[] Embed(RgbImage face) => Embed([face])[0];

    /// <summary>Unit-length embeddings of face crops, run in batches of at most <see cref="EmbedderOptions.MaxBatch"/>.</summary>
    public float[][] Embed(IReadOnlyList<RgbImage> faces)
    {
        var result = new float[faces.Count][];
        int batch = Math.Min(_maxBatch, _batchLimit);
        for (int start = 0; start < faces.Count; start += batch)
        {
            int n = Math.Min(batch, faces.Count - start);
            var (input, shape) = InputTensor(faces.Skip(start).Take(n).ToList());
            using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, [_inputName], [value], [_outputName]);
            var data = outputs[0].GetTensorDataAsSpan<float>();
            int dim = data.Length / n;
            for (int i = 0; i < n; i++)
            {
                var v = data.Slice(i * dim, dim).ToArray();
                L2.NormalizeInPlace(v);
                result[start + i] = v;
            }
        }
        return result;
    }

    /// <summary>The batch size the network's input is fixed to, or int.MaxValue when free.</summary>
    internal int BatchLimit => _batchLimit;

    /// <summary>Face crops as the network takes them: resized, preprocessed, in its layout (NCHW or NHWC).</summary>
    internal (float[] Data, long[] Shape) InputTensor(IReadOnlyList<RgbImage> faces)
    {
        int n = faces.Count, size = Info.InputSize, per = 3 * size * size;
        var input = new float[n * per];
        var scratch = new float[per];
        for (int i = 0; i < n; i++)
        {
            var face = faces[i].Resize(size, size, ResizeMode.Bilinear);
            if (_nhwc)
            {
                _preprocessing.Apply(face, scratch);
                int plane = size * size;
                for (int p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++)
                    input[i * per + p * 3 + c] = scratch[c * plane + p];
            }
            else _preprocessing.Apply(face, input.AsSpan(i * per, per));
        }
        return (input, _nhwc ? [n, size, size, 3] : [n, 3, size, size]);
    }

    /// <summary>The ONNX bytes of a model loaded from weights (imported again: not kept in memory).</summary>
    internal byte[] OnnxBytes()
    {
        if (Path.GetExtension(ModelPath).Equals(".onnx", StringComparison.OrdinalIgnoreCase)) return File.ReadAllBytes(ModelPath);
        return _importWeights?.Invoke(ModelPath) ?? throw new ModelException(ModelPath, "not an .onnx model and no importer to read it");
    }

    public void Dispose() => _session.Dispose();

    /// <summary>
    /// The size of the vector the network gives per face, from its first output: [batch, D] or
    /// [batch, D, 1, 1], D from 8 to 65536. Anything else (a detector's score maps, a classifier's single
    /// value) is not a face embedder, and is refused before it can answer "same person" for anything.
    /// </summary>
    private static int EmbeddingWidth(InferenceSession session, string name)
    {
        var (outName, meta) = session.OutputMetadata.First();
        var d = meta.Dimensions;
        string shape = "[" + string.Join(",", d.Select(x => x < 0 ? "?" : x.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        bool vector = d.Length == 2 || (d.Length == 4 && d[2] == 1 && d[3] == 1);
        if (!vector || !meta.IsTensor || meta.ElementType != typeof(float))
            throw new ModelException(name, $"not a face embedder: its output '{outName}' is {shape}{(session.OutputMetadata.Count > 1 ? $" (one of {session.OutputMetadata.Count} outputs)" : "")}, where a face model gives one vector per face, [batch, size]");
        if (d[1] is > 0 and (< 8 or > 65536))
            throw new ModelException(name, $"not a face embedder: its output '{outName}' holds {d[1]} value(s) per face (an embedding has 8 to 65536)");
        return d[1] > 0 ? d[1] : 0; // unknown until it runs: taken from the first batch
    }

    /// <summary>A hash of the model with its metadata left out, so rewriting the threshold keeps the identity.</summary>
    private static string GraphHash(byte[] onnx, string name)
    {
        Onnx.Proto.ModelProto model;
        try { model = Onnx.Proto.ModelProto.Parser.ParseFrom(onnx); }
        catch (Google.Protobuf.InvalidProtocolBufferException e) { throw new ModelException(name, "not an ONNX model (" + e.Message + ")", e); }
        model.MetadataProps.Clear();
        model.DocString = "";
        model.ProducerVersion = "";
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Google.Protobuf.MessageExtensions.ToByteArray(model)))[..16];
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
