using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Models;

namespace FaceNet.Embedding;

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
