using FaceNet.Import.Networks;
using System.Globalization;
using FaceNet.Liveness;
using FaceNet.Models;
using Google.Protobuf;

namespace FaceNet.Import.Weights;

/// <summary>
/// Turns Minivision's MiniFASNet state dicts (<c>2.7_80x80_MiniFASNetV2.pth</c>, <c>4_0_0_80x80_MiniFASNetV1SE.pth</c>),
/// read by the safe PyTorch reader, into self-describing liveness networks: the ONNX graph (<see cref="MiniFasNet"/>)
/// with <see cref="LivenessInfo"/> metadata — input size, crop scale, BGR 0–255, classes, live class, the pair's threshold.
/// </summary>
public static class LivenessImporter
{
    /// <summary>
    /// The threshold of the bundled pair, written into imported networks unless another is given, and what it stands for
    /// (chosen as README's liveness section says).
    /// </summary>
    public const double DefaultThreshold = 0.5;

    /// <summary>What <see cref="DefaultThreshold"/> stands for.</summary>
    public const string DefaultCalibration = "the reference's decision point, and the highest threshold keeping BPCER at or below 5 % on 843 "
        + "camera-like colour live faces (LFW View 1 without padding, deepface, face_recognition, face-api.js colour photos; yunet+onet, mapped boxes); "
        + "APCER not measurable here (2 labelled attacks, both refused)";

    /// <summary>The BPCER measured at <see cref="DefaultThreshold"/> on those faces.</summary>
    public const double DefaultThresholdBpcer = 0.0486;

    /// <summary>Whether the file is MiniFASNet weights: by its name (Minivision's <c>…_MiniFASNet….pth</c>), or by its tensors for another PyTorch file.</summary>
    public static bool Recognizes(string path)
    {
        var name = Path.GetFileName(path);
        if (name.Contains("MiniFASNet", StringComparison.OrdinalIgnoreCase)) return true;
        if (!File.Exists(path) || WeightImporter.DetectFormat(path) != WeightFormat.Torch) return false;
        try { return MiniFasNet.Holds(TorchReader.Read(path)); }
        catch (WeightsException) { return false; }
    }

    /// <summary>
    /// What Minivision's file names say: <c>SCALE_HxW_VARIANT.pth</c> (<c>2.7_80x80_MiniFASNetV2</c>; <c>4_0_0_…</c> is
    /// scale 4, as their code reads it). Parts that are not there are null.
    /// </summary>
    public static (double? Scale, int? Size, string? Variant) ParseName(string path)
    {
        var parts = Path.GetFileNameWithoutExtension(path).Split('_');
        int dims = Array.FindLastIndex(parts, p => p.Split('x') is [var h, var w] && int.TryParse(h, CultureInfo.InvariantCulture, out _)
            && int.TryParse(w, CultureInfo.InvariantCulture, out _));
        if (dims < 0) return (null, null, null);
        var hw = parts[dims].Split('x');
        int h = int.Parse(hw[0], CultureInfo.InvariantCulture), w = int.Parse(hw[1], CultureInfo.InvariantCulture);
        // the first number before HxW ("4_0_0" is scale 4, as Minivision's code reads it; a prefix such as "tiny_" is skipped)
        double? scale = null;
        foreach (var part in parts[..dims])
            if (double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var s)) { scale = s; break; }
        string? variant = dims + 1 < parts.Length ? parts[dims + 1] : null;
        return (scale, h == w ? h : null, variant);
    }

    /// <summary>Reads the weights and builds the network with its metadata.</summary>
    public static (byte[] Onnx, LivenessInfo Info) Import(string path, LivenessImportOptions? options = null)
    {
        options ??= new LivenessImportOptions();
        var (nameScale, nameSize, _) = ParseName(path);
        if (Path.GetFileName(path).StartsWith("org_", StringComparison.OrdinalIgnoreCase) && options.CropScale is null)
            throw new WeightsException(path, "a whole-photo MiniFASNet ('org_…', no face crop) is not supported: give --crop-scale if it takes a face patch");
        var scale = options.CropScale ?? nameScale ?? throw new WeightsException(path,
            "the crop scale is not in the file name (Minivision's SCALE_HxW_TYPE.pth, e.g. 2.7_80x80_MiniFASNetV2.pth): give it (--crop-scale)");
        int size = options.InputSize ?? nameSize ?? 80;
        var weights = WeightImporter.ReadWeights(path, WeightFormat.Torch);
        if (!MiniFasNet.Holds(weights))
            throw new WeightsException(path, $"not MiniFASNet weights (no conv_6_dw, conv_23 and prob tensors among its {weights.Count}, e.g. '{weights.Names.FirstOrDefault()}')");
        var variant = MiniFasNet.Variant(weights);
        var graph = MiniFasNet.Build(weights, size);
        var info = new LivenessInfo
        {
            InputSize = size, CropScale = scale, Channels = "bgr", Range = "0-255", Classes = ["attack", "live", "attack"], LiveClass = 1,
            Box = LivenessInfo.ReferenceBox, Threshold = options.Threshold ?? DefaultThreshold,
            Calibration = options.Threshold is null ? DefaultCalibration : "given at import",
            ThresholdBpcer = options.Threshold is null ? DefaultThresholdBpcer : null,
            Name = options.Name ?? variant.Replace("MiniFASNet", "minifasnet-", StringComparison.Ordinal).ToLowerInvariant().TrimEnd('-'),
            Source = "minivision-ai/Silent-Face-Anti-Spoofing:" + Path.GetFileName(path),
        };
        try { info.Validate(); }
        catch (FormatException e) { throw new WeightsException(path, e.Message, e); }
        foreach (var (k, v) in info.ToMetadata()) graph.Metadata(k, v);
        return (graph.Build().ToByteArray(), info);
    }

    /// <summary>Imports <paramref name="path"/> and writes the network atomically to <paramref name="output"/>.</summary>
    public static LivenessInfo ImportToFile(string path, string output, LivenessImportOptions? options = null)
    {
        var (bytes, info) = Import(path, options);
        AtomicFile.Write(output, bytes);
        return info;
    }
}
