using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Models;

namespace FaceNet.Embedding;

/// <summary>Options of <see cref="FaceModel.Load"/>. Non-null overrides win over what the model file says.</summary>
public sealed record FaceModelOptions
{
    /// <summary>ONNX Runtime intra-op threads per network; 0 lets ONNX Runtime choose.</summary>
    public int Threads { get; init; }

    /// <summary>Largest batch sent to a network at once.</summary>
    public int MaxBatch { get; init; } = 32;

    public string? Preprocess { get; init; }
    public double? Threshold { get; init; }

    /// <summary>Overrides the alignment of a single-network model (a fused model's members keep theirs).</summary>
    public AlignmentSpec? Alignment { get; init; }

    /// <summary>Test-time flip averaging for every network: the embedding of the crop plus that of its mirror image.</summary>
    public bool Flip { get; init; }

    /// <summary>Turns a weights file into ONNX model bytes (see <see cref="EmbedderOptions.ImportWeights"/>).</summary>
    public Func<string, byte[]>? ImportWeights { get; init; }

    /// <summary>ONNX Runtime session options (execution providers, …) used for every network instead of ours.</summary>
    public Microsoft.ML.OnnxRuntime.SessionOptions? SessionOptions { get; init; }
}

/// <summary>
/// A face model as the pipeline uses it: one network with the alignment it was trained on (and
/// optionally flip averaging), or a <em>fused</em> model whose embedding is the concatenation of several
/// such members' unit embeddings, each weighted, re-normalised to unit length. Crops are made per member
/// (<see cref="Align"/>, cheap, any thread), then embedded in batches (<see cref="Embed(IReadOnlyList{FaceCrops})"/>).
/// Thread-safe: one instance can serve concurrent callers.
/// </summary>
public sealed class FaceModel : IDisposable
{
    /// <summary>One network of a model: how its crops are made and how much its embedding counts.</summary>
    public sealed record Member(FaceEmbedder Embedder, AlignmentSpec Alignment, bool Flip, float Weight);

    private readonly bool _ownsMembers;

    private FaceModel(string path, ModelInfo info, IReadOnlyList<Member> members, string identity, IReadOnlyList<string> aliases, bool ownsMembers = true)
    {
        Path = path;
        Info = info;
        Members = members;
        Identity = identity;
        IdentityAliases = aliases;
        _ownsMembers = ownsMembers;
    }

    /// <summary>The file the model came from (an <c>.onnx</c>, weights, or a fused model's <c>.json</c>).</summary>
    public string Path { get; }

    /// <summary>Name, metric, threshold (and what it stands for), embedding size.</summary>
    public ModelInfo Info { get; }

    public IReadOnlyList<Member> Members { get; }

    /// <summary>
    /// What the embeddings depend on: each network's graph and weights, preprocessing, input size,
    /// alignment, flip and fusion weights, as <c>name:hash</c>. Metadata such as the threshold is not part
    /// of it, so a recalibrated copy of a model still matches galleries and caches made with the original.
    /// </summary>
    public string Identity { get; }

    /// <summary>Identities under which earlier releases knew the same model (read from its metadata).</summary>
    public IReadOnlyList<string> IdentityAliases { get; }

    public bool IsFused => Members.Count > 1;

    /// <summary>
    /// Loads a model given as users give it: a bundled model's name (null: the default), an <c>.onnx</c>
    /// file, weights to import (<c>.h5</c>, <c>.pt</c>, <c>.safetensors</c>, TF.js), or a fused model
    /// (<c>.json</c> with <c>"format": "facenet-fused"</c>).
    /// </summary>
    public static FaceModel Load(string? model, FaceModelOptions? options = null)
    {
        options ??= new FaceModelOptions();
        var path = BundledModels.ResolveEmbedder(model);
        if (FusedFile.Is(path)) return LoadFused(path, options);
        var embedder = FaceEmbedder.Load(path, new EmbedderOptions
        {
            Threads = options.Threads, MaxBatch = options.MaxBatch, Preprocess = options.Preprocess, Threshold = options.Threshold,
            ImportWeights = options.ImportWeights, SessionOptions = options.SessionOptions,
        });
        try { return Single(embedder, options.Alignment, options.Flip, path); }
        catch
        {
            embedder.Dispose();
            throw;
        }
    }

    /// <summary>A model of one network that the caller loaded; <paramref name="alignment"/> overrides the network's own.</summary>
    public static FaceModel FromEmbedder(FaceEmbedder embedder, AlignmentSpec? alignment = null, bool flip = false, bool ownsEmbedder = true)
    {
        var m = Single(embedder, alignment, flip, embedder.ModelPath);
        return ownsEmbedder ? m : new FaceModel(m.Path, m.Info, m.Members, m.Identity, m.IdentityAliases, ownsMembers: false);
    }

    private static FaceModel Single(FaceEmbedder embedder, AlignmentSpec? alignment, bool flip, string path)
    {
        AlignmentSpec spec;
        try { spec = alignment ?? AlignmentSpec.Parse(embedder.Info.Alignment); }
        catch (FormatException e) { throw new ModelException(path, e.Message, e); }
        var info = embedder.Info with { Alignment = spec.Text };
        var identity = $"{info.Name}:{Hash(embedder.Identity, spec.Text, flip ? "flip" : "")}";
        return new FaceModel(path, info, [new Member(embedder, spec, flip, 1f)], identity, embedder.IdentityAliases);
    }

    private static FaceModel LoadFused(string path, FaceModelOptions options)
    {
        if (options.Alignment is not null) throw new SettingException("alignment",
            "an alignment applies to a single network; a fused model's members keep their own alignments");
        if (options.Preprocess is not null) throw new SettingException("preprocess",
            "a preprocessing applies to a single network; a fused model's members keep their own");
        var file = FusedFile.Read(path);
        var members = new List<Member>();
        try
        {
            foreach (var m in file.Members)
            {
                var memberPath = BundledModels.Find(m.Model) ?? System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, m.Model);
                if (FusedFile.Is(memberPath)) throw new ModelException(path, $"member '{m.Model}' is itself a fused model");
                var embedder = FaceEmbedder.Load(memberPath,
                    new EmbedderOptions { Threads = options.Threads, MaxBatch = options.MaxBatch, SessionOptions = options.SessionOptions });
                members.Add(new Member(embedder, AlignmentSpec.Parse(m.Alignment ?? embedder.Info.Alignment), m.Flip || options.Flip, m.Weight));
            }
        }
        catch (Exception e)
        {
            foreach (var m in members) m.Embedder.Dispose();
            if (e is FormatException f) throw new ModelException(path, f.Message, f);
            throw;
        }
        var info = new ModelInfo
        {
            Name = file.Name, Metric = file.Metric, Threshold = options.Threshold ?? file.Threshold, ThresholdFar = options.Threshold is null ? file.ThresholdFar : null,
            ThresholdFrr = options.Threshold is null ? file.ThresholdFrr : null, Calibration = options.Threshold is null ? file.Calibration : "",
            EmbeddingSize = members.Sum(m => m.Embedder.Info.EmbeddingSize), InputSize = members[0].Embedder.Info.InputSize,
            Preprocess = "fused", Alignment = string.Join(" + ", members.Select(m => m.Alignment.Text)), Source = "fused:" + System.IO.Path.GetFileName(path),
            ImpostorTail = file.ImpostorTail, PoseThresholds = options.Threshold is null ? file.PoseThresholds : null,
        };
        var identity = $"{file.Name}:{Hash(members.Select(m => $"{m.Embedder.Identity}|{m.Alignment.Text}|{m.Flip}|{m.Weight.ToString("R", CultureInfo.InvariantCulture)}").ToArray())}";
        return new FaceModel(path, info, members, identity, []);
    }

    private static string Hash(params string[] parts) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", parts))))[..16];

    /// <summary>The crops of one detected face, one per member network.</summary>
    public FaceCrops Align(RgbImage image, DetectedFace face)
        => new(Members.Select(m => FaceAligner.Align(image, face, m.Alignment, m.Embedder.Info.InputSize)).ToArray());

    /// <summary>An image that already is a face crop, as each member takes it (resized, no alignment).</summary>
    public FaceCrops FromCrop(RgbImage crop)
        => new(Members.Select(m => crop.Resize(m.Embedder.Info.InputSize, m.Embedder.Info.InputSize, ResizeMode.Bilinear)).ToArray());

    /// <summary>Unit-length embeddings of faces' crops, each network run in batches.</summary>
    public float[][] Embed(IReadOnlyList<FaceCrops> faces)
    {
        if (faces.Count == 0) return [];
        var parts = new float[Members.Count][][];
        for (int k = 0; k < Members.Count; k++)
        {
            var m = Members[k];
            var crops = faces.Select(f => f.Crops[k]).ToList();
            parts[k] = m.Flip ? FlipAveraged(m.Embedder, crops) : m.Embedder.Embed(crops);
        }
        if (Members.Count == 1) return parts[0];
        var result = new float[faces.Count][];
        for (int i = 0; i < faces.Count; i++)
        {
            var v = new float[Info.EmbeddingSize];
            int o = 0;
            for (int k = 0; k < Members.Count; k++)
            {
                var p = parts[k][i];
                float w = Members[k].Weight;
                for (int j = 0; j < p.Length; j++) v[o + j] = p[j] * w;
                o += p.Length;
            }
            L2.NormalizeInPlace(v);
            result[i] = v;
        }
        return result;
    }

    public float[] Embed(FaceCrops face) => Embed([face])[0];

    private static float[][] FlipAveraged(FaceEmbedder embedder, IReadOnlyList<RgbImage> crops)
    {
        var both = embedder.Embed(crops.Concat(crops.Select(c => c.FlipHorizontal())).ToList());
        var result = new float[crops.Count][];
        for (int i = 0; i < crops.Count; i++)
        {
            var v = new float[both[i].Length];
            for (int j = 0; j < v.Length; j++) v[j] = both[i][j] + both[i + crops.Count][j];
            L2.NormalizeInPlace(v);
            result[i] = v;
        }
        return result;
    }

    /// <summary>
    /// Writes a copy of the model with another threshold and what it stands for (the rates measured there
    /// and how it was chosen); its identity is unchanged, so galleries and caches made with it stay valid.
    /// A fused model is written as <c>.json</c>, a network as <c>.onnx</c>.
    /// </summary>
    public void SaveWithThreshold(string output, double threshold, double far, double frr, string calibration, Matching.ImpostorTail? tail = null,
        Matching.PoseThresholds? poseThresholds = null)
    {
        tail ??= Info.ImpostorTail;
        poseThresholds ??= Info.PoseThresholds;
        if (IsFused)
        {
            AtomicFile.Write(output, FusedFile.WithThreshold(Path, threshold, far, frr, calibration, tail, poseThresholds));
            return;
        }
        var m = Members[0];
        byte[] onnx;
        try { onnx = System.IO.Path.GetExtension(Path).Equals(".onnx", StringComparison.OrdinalIgnoreCase) ? File.ReadAllBytes(Path) : m.Embedder.OnnxBytes(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ModelException(Path, e.Message, e); }
        var info = m.Embedder.Info with { Threshold = threshold, ThresholdFar = far, ThresholdFrr = frr, Calibration = calibration,
            Alignment = m.Alignment.Text, ImpostorTail = tail, PoseThresholds = poseThresholds };
        AtomicFile.Write(output, Onnx.OnnxModelFile.WithMetadata(onnx, info.ToMetadata(), Path));
    }

    public void Dispose()
    {
        if (!_ownsMembers) return;
        foreach (var m in Members) m.Embedder.Dispose();
    }
}

/// <summary>The crops one face gives a model: one per member network, in member order.</summary>
public sealed class FaceCrops(RgbImage[] crops)
{
    internal RgbImage[] Crops { get; } = crops;

    /// <summary>The first network's crop (what <c>facenet align</c> shows).</summary>
    public RgbImage Primary => Crops[0];
}

/// <summary>
/// A fused model's file: JSON <c>{"format": "facenet-fused", "name", "metric", "threshold", …,
/// "members": [{"model", "alignment", "flip", "weight"}]}</c>; a member's model is a bundled name or a
/// path relative to the file.
/// </summary>
public sealed record FusedFile(string Name, Matching.Metric Metric, double Threshold, double? ThresholdFar, double? ThresholdFrr,
    string Calibration, IReadOnlyList<FusedFile.MemberSpec> Members)
{
    /// <summary>The model's impostor tail (<c>"impostor_tail"</c>), when it has one.</summary>
    public Matching.ImpostorTail? ImpostorTail { get; init; }

    /// <summary>The model's thresholds per band of pose difference (<c>"pose_thresholds"</c>), when it has them.</summary>
    public Matching.PoseThresholds? PoseThresholds { get; init; }

    public const string Format = "facenet-fused";

    public sealed record MemberSpec(string Model, string? Alignment, bool Flip, float Weight);

    /// <summary>True for a <c>.json</c> file whose <c>format</c> is <see cref="Format"/>.</summary>
    public static bool Is(string path)
    {
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return false;
        try
        {
            using var s = File.OpenRead(path);
            var head = new byte[512];
            int n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return Encoding.UTF8.GetString(head, 0, n).Contains("\"" + Format, StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }

    public static FusedFile Read(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var r = doc.RootElement;
            string S(string key, string fallback) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
            double? D(string key) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            var members = r.GetProperty("members").EnumerateArray().Select(m => new MemberSpec(
                m.GetProperty("model").GetString() ?? throw new FormatException("a member without a model"),
                m.TryGetProperty("alignment", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null,
                m.TryGetProperty("flip", out var f) && f.ValueKind == JsonValueKind.True,
                m.TryGetProperty("weight", out var w) && w.ValueKind == JsonValueKind.Number ? w.GetSingle() : 1f)).ToList();
            if (members.Count == 0) throw new FormatException("no members");
            if (members.Any(m => !(m.Weight > 0) || !float.IsFinite(m.Weight))) throw new FormatException("member weights must be positive");
            var metric = Matching.Metrics.Parse(S("metric", "euclidean"));
            var threshold = D("threshold") ?? throw new FormatException("no threshold");
            if (!(threshold > 0) || !double.IsFinite(threshold)) throw new FormatException("the threshold must be a positive number");
            var tail = r.TryGetProperty("impostor_tail", out var t) && t.ValueKind == JsonValueKind.Object ? Matching.ImpostorTail.Parse(t.GetRawText()) : null;
            var pose = r.TryGetProperty("pose_thresholds", out var pt) && pt.ValueKind == JsonValueKind.Object ? Matching.PoseThresholds.Parse(pt.GetRawText()) : null;
            return new FusedFile(S("name", System.IO.Path.GetFileNameWithoutExtension(path)), metric, threshold, D("threshold_far"),
                D("threshold_frr"), S("calibration", ""), members) { ImpostorTail = tail, PoseThresholds = pose };
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelException(path, "not a valid fused model: " + e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelException(path, e.Message, e);
        }
    }

    /// <summary>The file with another threshold and impostor tail (what <c>calibrate -o</c> writes for a fused model).</summary>
    public static string WithThreshold(string path, double threshold, double? far, double? frr, string calibration, Matching.ImpostorTail? tail = null,
        Matching.PoseThresholds? poseThresholds = null)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        // members named by a path are made absolute, so the copy can live anywhere
        foreach (var m in node["members"]!.AsArray())
            if (m?["model"]?.GetValue<string>() is { } model && BundledModels.Find(model) is null)
                m["model"] = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, model));
        node["threshold"] = threshold;
        node["threshold_far"] = far;
        node["threshold_frr"] = frr;
        node["calibration"] = calibration;
        if (tail is not null) node["impostor_tail"] = tail.ToNode();
        if (poseThresholds is not null) node["pose_thresholds"] = poseThresholds.ToNode();
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
