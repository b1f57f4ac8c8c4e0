using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FaceNet.Matching;

/// <summary>
/// A same-person threshold per band of pose difference. Two photos of one person drift apart as their poses do, so
/// a pair whose yaws differ by 45° or more needs a larger threshold than two frontal photos for the same
/// false-accept rate: each band's threshold is set for the false-accept rate of the model's 1:1 threshold, on
/// different-person pairs of that band. A pair with an unknown pose (a face without landmarks) takes the first
/// band. The first band's threshold is the model's own (<see cref="Models.ModelInfo.Threshold"/>).
/// </summary>
public sealed record PoseThresholds(IReadOnlyList<PoseBand> Bands, string Source)
{
    /// <summary>The band edges the bundled models use: 0–15°, 15–45°, 45° and more of yaw difference.</summary>
    public static IReadOnlyList<double> StandardEdges { get; } = [0, 15, 45];

    /// <summary>The band a yaw difference falls in: the last band whose start it reaches (an edge belongs to the band it starts).</summary>
    public int BandOf(double? yawDifference)
    {
        if (yawDifference is not { } d || !double.IsFinite(d)) return 0;
        int band = 0;
        for (int i = 1; i < Bands.Count; i++) if (d >= Bands[i].From) band = i;
        return band;
    }

    /// <summary>The threshold of a pair whose yaws differ by <paramref name="yawDifference"/> degrees (null: unknown, the first band).</summary>
    public double ThresholdFor(double? yawDifference) => Bands[BandOf(yawDifference)].Threshold;

    /// <summary>How much looser than the first band a band is: what identification adds to its FPIR threshold there.</summary>
    public double Offset(double? yawDifference) => ThresholdFor(yawDifference) - Bands[0].Threshold;

    /// <summary>The same bands with the first one's threshold replaced (a calibrated copy of the model keeps the offsets).</summary>
    public PoseThresholds WithBase(double threshold)
    {
        double shift = threshold - Bands[0].Threshold;
        return this with { Bands = Bands.Select(b => b with { Threshold = Math.Round(b.Threshold + shift, 6) }).ToList() };
    }

    /// <summary>A band's name for people: <c>0–15°</c>, <c>45°+</c>.</summary>
    public string BandName(int band) => band + 1 < Bands.Count
        ? FormattableString.Invariant($"{Bands[band].From:G}–{Bands[band + 1].From:G}°") : FormattableString.Invariant($"{Bands[band].From:G}°+");

    // ----- as model metadata: {"source":"…","bands":[[from,threshold,far,pairs],…]} -----

    public string ToJson() => ToNode().ToJsonString();

    public JsonObject ToNode() => new()
    {
        ["source"] = Source,
        ["bands"] = new JsonArray(Bands.Select(b => (JsonNode)new JsonArray(b.From, b.Threshold, b.Far, b.Pairs)).ToArray()),
    };

    /// <summary>Reads <see cref="ToJson"/>'s form; <see cref="FormatException"/> names what is wrong.</summary>
    public static PoseThresholds Parse(string json)
    {
        try { return FromNode(JsonNode.Parse(json) ?? throw new FormatException("pose thresholds: empty")); }
        catch (JsonException e) { throw new FormatException("pose thresholds: " + e.Message, e); }
    }

    public static PoseThresholds FromNode(JsonNode node)
    {
        try
        {
            var bands = (node["bands"]?.AsArray() ?? throw new FormatException("pose thresholds: no bands"))
                .Select(b => b!.AsArray())
                .Select(b => new PoseBand(b[0]!.GetValue<double>(), b[1]!.GetValue<double>(), b.Count > 2 ? b[2]?.GetValue<double>() : null,
                    b.Count > 3 && b[3] is { } n ? n.GetValue<long>() : 0))
                .ToList();
            if (bands.Count == 0) throw new FormatException("pose thresholds: no bands");
            if (bands[0].From != 0) throw new FormatException("pose thresholds: the first band must start at 0°");
            for (int i = 1; i < bands.Count; i++)
                if (!(bands[i].From > bands[i - 1].From)) throw new FormatException("pose thresholds: bands must start at increasing angles");
            if (bands.Any(b => !(b.Threshold > 0) || !double.IsFinite(b.Threshold)))
                throw new FormatException("pose thresholds: every band needs a positive, finite threshold");
            return new PoseThresholds(bands, node["source"]?.GetValue<string>() ?? "");
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new FormatException("pose thresholds: " + e.Message, e);
        }
    }

    public override string ToString() => string.Join(", ", Bands.Select((b, i) =>
        string.Create(CultureInfo.InvariantCulture, $"{BandName(i)} {b.Threshold:F4}")));
}
