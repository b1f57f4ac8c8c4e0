using System.Text.Json.Serialization;

namespace FaceNet.Liveness;

/// <summary>
/// The liveness answer for one face as the command line's <c>--json</c> and the service write it:
/// <c>{"box":[x,y,w,h], "live":true|false|null, "score":…, "threshold":…, "reason":…}</c> (<c>reason</c>
/// only when <c>live</c> is null). The names are a contract: scripts rely on them.
/// </summary>
public sealed record LivenessJson(
    [property: JsonPropertyName("box")] int[] Box,
    [property: JsonPropertyName("live")] bool? Live,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason)
{
    public static LivenessJson Of(LivenessResult r) => new(r.Box.ToArray(), r.Live, Math.Round(r.Score, 6), r.Threshold, r.Live is null ? r.Reason : null);
}
