using System.Text;
using System.Text.Json;
using FaceNet.Models;

namespace FaceNet.Embedding;

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
