using System.Globalization;

namespace FaceNet.Models;

/// <summary>
/// How to use an embedding model, stored in the ONNX file's <c>metadata_props</c> under <c>facenet.*</c>
/// keys, so a model file is self-describing.
/// </summary>
public sealed record ModelInfo
{
    public const string KeyInputSize = "facenet.input_size";
    public const string KeyPreprocess = "facenet.preprocess";
    public const string KeyAlignment = "facenet.alignment";
    public const string KeyEmbeddingSize = "facenet.embedding_size";
    public const string KeyMetric = "facenet.metric";
    public const string KeyThreshold = "facenet.threshold";
    public const string KeySource = "facenet.source";
    public const string KeyName = "facenet.name";
    public const string KeyThresholdFar = "facenet.threshold_far";
    public const string KeyCalibration = "facenet.calibration";
    public const string KeyThresholdFrr = "facenet.threshold_frr";
    public const string KeyIdentityAliases = "facenet.identity_aliases";
    public const string KeyImpostorTail = "facenet.impostor_tail";
    public const string KeyPoseThresholds = "facenet.pose_thresholds";

    /// <summary>Side of the square input, in pixels (160 for FaceNet).</summary>
    public int InputSize { get; init; } = 160;

    /// <summary><c>prewhiten</c>, <c>fixed</c> or <c>meanstd:r,g,b:r,g,b</c> (see <see cref="Embedding.Preprocessing"/>).</summary>
    public string Preprocess { get; init; } = "prewhiten";

    /// <summary>How faces are cropped for this model, e.g. <c>margin:10</c> (the seed) or <c>template:arcface112</c>.</summary>
    public string Alignment { get; init; } = "margin:10";

    public int EmbeddingSize { get; init; } = 128;

    /// <summary>Euclidean (on unit vectors, the seed's) or cosine.</summary>
    public Matching.Metric Metric { get; init; } = Matching.Metric.Euclidean;

    /// <summary>Same-person decision threshold in <see cref="Metric"/> units: distance at or below it means "same".</summary>
    public double Threshold { get; init; } = 1.1;

    public string Source { get; init; } = "";

    public string Name { get; init; } = "";

    /// <summary>The false-accept rate the threshold stands for (calibrated for, or measured at it), when known.</summary>
    public double? ThresholdFar { get; init; }

    /// <summary>The false-reject rate measured at the threshold, when known.</summary>
    public double? ThresholdFrr { get; init; }

    /// <summary>Gallery bindings under which earlier releases knew this model (comma-separated in the metadata).</summary>
    public IReadOnlyList<string> IdentityAliases { get; init; } = [];

    /// <summary>How the threshold was chosen (data, pairs, date), when known.</summary>
    public string Calibration { get; init; } = "";

    /// <summary>Thresholds per false-accept rate down to small rates, which open-set identification chooses its threshold from; null when the model has none.</summary>
    public Matching.ImpostorTail? ImpostorTail { get; init; }

    /// <summary>
    /// Thresholds per band of pose difference (<see cref="Matching.PoseThresholds"/>), when the model has them: a pair's
    /// threshold is <see cref="Threshold"/> plus its band's offset from the first band. Null when the model has none or
    /// a fixed threshold was given.
    /// </summary>
    public Matching.PoseThresholds? PoseThresholds { get; init; }

    /// <summary>The same-person threshold of a pair whose yaws differ by <paramref name="yawDifference"/> degrees (null: unknown).</summary>
    public double ThresholdFor(double? yawDifference) => Threshold + (PoseThresholds?.Offset(yawDifference) ?? 0);

    /// <summary>What the threshold stands for: how it was chosen and the error rates measured there (or that the caller gave it).</summary>
    public string DescribeThreshold(bool given = false)
    {
        if (given) return "given by the caller";
        var rates = ThresholdFar is { } far ? $"FAR {far:G3}" + (ThresholdFrr is { } frr ? $", FRR {frr:G3}" : "") : null;
        if (Calibration.Length > 0) return Calibration + (rates is null ? "" : $" ({rates} there)");
        return $"{Name} default" + (rates is null ? "" : $" ({rates})");
    }

    public IEnumerable<KeyValuePair<string, string>> ToMetadata()
    {
        yield return new(KeyInputSize, InputSize.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyPreprocess, Preprocess);
        yield return new(KeyAlignment, Alignment);
        yield return new(KeyEmbeddingSize, EmbeddingSize.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyMetric, Matching.Metrics.Name(Metric));
        yield return new(KeyThreshold, Threshold.ToString("R", CultureInfo.InvariantCulture));
        yield return new(KeySource, Source);
        yield return new(KeyName, Name);
        if (ThresholdFar is { } far) yield return new(KeyThresholdFar, far.ToString("R", CultureInfo.InvariantCulture));
        if (ThresholdFrr is { } frr) yield return new(KeyThresholdFrr, frr.ToString("R", CultureInfo.InvariantCulture));
        if (IdentityAliases.Count > 0) yield return new(KeyIdentityAliases, string.Join(",", IdentityAliases));
        if (Calibration.Length > 0) yield return new(KeyCalibration, Calibration);
        if (ImpostorTail is { } tail) yield return new(KeyImpostorTail, tail.ToJson());
        if (PoseThresholds is { } pose) yield return new(KeyPoseThresholds, pose.ToJson());
    }

    /// <summary>Reads the <c>facenet.*</c> keys; absent keys keep <paramref name="defaults"/>' values.</summary>
    public static ModelInfo FromMetadata(IReadOnlyDictionary<string, string> metadata, ModelInfo defaults)
    {
        string? Get(string key) => metadata.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        int Int(string key, int fallback) => Get(key) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return defaults with
        {
            InputSize = Int(KeyInputSize, defaults.InputSize),
            Preprocess = Get(KeyPreprocess) ?? defaults.Preprocess,
            Alignment = Get(KeyAlignment) ?? defaults.Alignment,
            EmbeddingSize = Int(KeyEmbeddingSize, defaults.EmbeddingSize),
            Metric = Get(KeyMetric) is { } m ? Matching.Metrics.Parse(m) : defaults.Metric,
            Threshold = Get(KeyThreshold) is { } t ? double.Parse(t, CultureInfo.InvariantCulture) : defaults.Threshold,
            Source = Get(KeySource) ?? defaults.Source,
            Name = Get(KeyName) ?? defaults.Name,
            ThresholdFar = Get(KeyThresholdFar) is { } f ? double.Parse(f, CultureInfo.InvariantCulture) : defaults.ThresholdFar,
            ThresholdFrr = Get(KeyThresholdFrr) is { } fr ? double.Parse(fr, CultureInfo.InvariantCulture) : defaults.ThresholdFrr,
            IdentityAliases = Get(KeyIdentityAliases) is { } al ? al.Split(',',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : defaults.IdentityAliases,
            Calibration = Get(KeyCalibration) ?? defaults.Calibration,
            ImpostorTail = Get(KeyImpostorTail) is { } tail ? Matching.ImpostorTail.Parse(tail) : defaults.ImpostorTail,
            PoseThresholds = Get(KeyPoseThresholds) is { } pose ? Matching.PoseThresholds.Parse(pose) : defaults.PoseThresholds,
        };
    }
}
