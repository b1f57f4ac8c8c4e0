using System.Text.Encodings.Web;
using System.Text.Json;

namespace FaceNet.Contracts;

/// <summary>
/// The JSON both front ends write — the service's answers and the CLI's <c>--json</c> lines — so that a script reads one
/// shape from either: snake_case names, relaxed escaping.
/// </summary>
public static class ApiJson
{
    /// <summary>The options every answer is written with.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // yunet+onet, not yunet\u002Bonet: answers are JSON for programs, never pasted into HTML unescaped
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
