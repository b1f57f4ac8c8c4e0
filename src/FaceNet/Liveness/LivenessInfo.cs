using System.Globalization;

namespace FaceNet.Liveness;

/// <summary>
/// How to use one liveness (presentation-attack detection) network, stored in its ONNX file's
/// <c>metadata_props</c> beside the embedding models' <c>facenet.*</c> keys, so the file describes itself:
/// which patch of the photo it looks at (the face box grown <see cref="CropScale"/> times), at which size,
/// in which channel order and value range, what its classes are, and the threshold of the pair of networks
/// it belongs to (the decision is on the pair's mean live probability).
/// </summary>
public sealed record LivenessInfo
{
    /// <summary>What a model file is for: <c>liveness</c> here (an embedding model has no such key).</summary>
    public const string KeyTask = "facenet.task";
    public const string TaskLiveness = "liveness";
    public const string KeyInputSize = Models.ModelInfo.KeyInputSize;
    public const string KeyName = Models.ModelInfo.KeyName;
    public const string KeySource = Models.ModelInfo.KeySource;
    public const string KeyCropScale = "facenet.liveness.crop_scale";
    public const string KeyChannels = "facenet.liveness.channels";
    public const string KeyRange = "facenet.liveness.range";
    public const string KeyClasses = "facenet.liveness.classes";
    public const string KeyLiveClass = "facenet.liveness.live_class";
    public const string KeyBox = "facenet.liveness.box";
    public const string KeyThreshold = "facenet.liveness.threshold";
    public const string KeyCalibration = "facenet.liveness.calibration";
    public const string KeyThresholdApcer = "facenet.liveness.threshold_apcer";
    public const string KeyThresholdBpcer = "facenet.liveness.threshold_bpcer";

    /// <summary>The detector whose boxes <see cref="CropScale"/> is relative to: Minivision's Caffe SSD, which the reference pipeline runs.</summary>
    public const string ReferenceBox = "minivision-ssd";

    /// <summary>Side of the square input (80 for MiniFASNet).</summary>
    public int InputSize { get; init; } = 80;

    /// <summary>The patch is the face box grown this many times about its centre (2.7, 4.0), shifted and shrunk to fit the photo.</summary>
    public double CropScale { get; init; } = 1;

    /// <summary><c>bgr</c> (MiniFASNet, trained on OpenCV's images) or <c>rgb</c>.</summary>
    public string Channels { get; init; } = "bgr";

    /// <summary>The values the network takes: <c>0-255</c> (pixels as they are) or <c>0-1</c>.</summary>
    public string Range { get; init; } = "0-255";

    /// <summary>The output classes in order, e.g. <c>attack, live, attack</c>.</summary>
    public IReadOnlyList<string> Classes { get; init; } = ["attack", "live", "attack"];

    /// <summary>Which output is the live face.</summary>
    public int LiveClass { get; init; } = 1;

    /// <summary>The detector whose face boxes the crop scale is meant for (<see cref="ReferenceBox"/>).</summary>
    public string Box { get; init; } = ReferenceBox;

    /// <summary>The pair's threshold on its combined score (mean live probability): at or above it a face is live.</summary>
    public double Threshold { get; init; } = 0.5;

    /// <summary>How the threshold was chosen (which photos, which rule).</summary>
    public string Calibration { get; init; } = "";

    /// <summary>The attack presentation classification error rate (attacks accepted) measured at the threshold, when known.</summary>
    public double? ThresholdApcer { get; init; }

    /// <summary>The bona fide presentation classification error rate (live faces refused) measured at the threshold, when known.</summary>
    public double? ThresholdBpcer { get; init; }

    public string Name { get; init; } = "";

    public string Source { get; init; } = "";

    /// <summary>Whether the network takes pixel values as they are (else divided by 255).</summary>
    public bool Raw => Range == "0-255";

    public IEnumerable<KeyValuePair<string, string>> ToMetadata()
    {
        yield return new(KeyTask, TaskLiveness);
        yield return new(KeyInputSize, InputSize.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyCropScale, CropScale.ToString("R", CultureInfo.InvariantCulture));
        yield return new(KeyChannels, Channels);
        yield return new(KeyRange, Range);
        yield return new(KeyClasses, string.Join(",", Classes));
        yield return new(KeyLiveClass, LiveClass.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyBox, Box);
        yield return new(KeyThreshold, Threshold.ToString("R", CultureInfo.InvariantCulture));
        if (Calibration.Length > 0) yield return new(KeyCalibration, Calibration);
        if (ThresholdApcer is { } a) yield return new(KeyThresholdApcer, a.ToString("R", CultureInfo.InvariantCulture));
        if (ThresholdBpcer is { } b) yield return new(KeyThresholdBpcer, b.ToString("R", CultureInfo.InvariantCulture));
        yield return new(KeyName, Name);
        yield return new(KeySource, Source);
    }

    /// <summary>Whether the metadata is a liveness network's.</summary>
    public static bool IsLiveness(IReadOnlyDictionary<string, string> metadata)
        => metadata.TryGetValue(KeyTask, out var task) && task.Trim() == TaskLiveness;

    /// <summary>Reads the keys; a value that cannot be used is a <see cref="FormatException"/> naming the key.</summary>
    public static LivenessInfo FromMetadata(IReadOnlyDictionary<string, string> metadata, LivenessInfo defaults)
    {
        string? Get(string key) => metadata.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        double Real(string key, double fallback) => Get(key) is { } v
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d
                : throw new FormatException($"{key} is '{v}', not a number")
            : fallback;
        double? Optional(string key) => Get(key) is null ? null : Real(key, 0);
        var info = defaults with
        {
            InputSize = (int)Real(KeyInputSize, defaults.InputSize),
            CropScale = Real(KeyCropScale, defaults.CropScale),
            Channels = Get(KeyChannels)?.ToLowerInvariant() ?? defaults.Channels,
            Range = Get(KeyRange) ?? defaults.Range,
            Classes = Get(KeyClasses) is { } c ? c.Split(',', StringSplitOptions.TrimEntries) : defaults.Classes,
            LiveClass = (int)Real(KeyLiveClass, defaults.LiveClass),
            Box = Get(KeyBox) ?? defaults.Box,
            Threshold = Real(KeyThreshold, defaults.Threshold),
            Calibration = Get(KeyCalibration) ?? defaults.Calibration,
            ThresholdApcer = Optional(KeyThresholdApcer) ?? defaults.ThresholdApcer,
            ThresholdBpcer = Optional(KeyThresholdBpcer) ?? defaults.ThresholdBpcer,
            Name = Get(KeyName) ?? defaults.Name,
            Source = Get(KeySource) ?? defaults.Source,
        };
        info.Validate();
        return info;
    }

    /// <summary>Refuses settings no network can be run with (the message names the key).</summary>
    public void Validate()
    {
        if (InputSize is < 8 or > 1024) throw new FormatException($"{KeyInputSize} is {InputSize}: expected 8 to 1024");
        if (!(CropScale is >= 0.5 and <= 16)) throw new FormatException($"{KeyCropScale} is {CropScale}: expected 0.5 to 16");
        if (Channels is not ("bgr" or "rgb")) throw new FormatException($"{KeyChannels} is '{Channels}': expected bgr or rgb");
        if (Range is not ("0-255" or "0-1")) throw new FormatException($"{KeyRange} is '{Range}': expected 0-255 or 0-1");
        if (LiveClass < 0 || LiveClass >= Classes.Count) throw new FormatException($"{KeyLiveClass} is {LiveClass}, but there are {Classes.Count} classes");
        if (!(Threshold is >= 0 and <= 1)) throw new FormatException($"{KeyThreshold} is {Threshold}: expected 0 to 1");
    }

    /// <summary>What the threshold stands for: how it was chosen and the error rates measured there (or that the caller gave it).</summary>
    public string DescribeThreshold(bool given = false)
    {
        if (given) return "given by the caller";
        var parts = new[] { ThresholdApcer is { } a ? $"APCER {a:G3}" : null, ThresholdBpcer is { } b ? $"BPCER {b:G3}" : null }.OfType<string>().ToList();
        var rates = parts.Count > 0 ? string.Join(", ", parts) : null;
        var what = Calibration.Length > 0 ? Calibration : $"{Name} default";
        return what + (rates is null ? "" : $" ({rates} there)");
    }
}
