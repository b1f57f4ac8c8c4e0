using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FaceNet.Service;

/// <summary>Error answers as RFC 9457 problem details (<c>application/problem+json</c>): a title for the kind, a detail naming the problem.</summary>
internal static class Problems
{
    public static ProblemHttpResult Status(int status, string title, string detail)
        => TypedResults.Problem(statusCode: status, title: title, detail: detail);

    /// <summary>A detail for the error answers the framework makes itself (unknown route, wrong method, wrong content type).</summary>
    public static void Explain(Microsoft.AspNetCore.Http.ProblemDetailsContext ctx)
    {
        var p = ctx.ProblemDetails;
        // one name in every host, whatever its JSON naming: trace_id, as the API's own fields are written
        if (p.Extensions.Remove("traceId", out var trace)) p.Extensions["trace_id"] = trace;
        if (p.Detail is not null) return;
        var r = ctx.HttpContext.Request;
        p.Detail = p.Status switch
        {
            404 => $"no such endpoint: {r.Method} {r.Path} (see /openapi/v1.json)",
            405 => $"{r.Path} does not take {r.Method}",
            415 => $"send the image as multipart/form-data (got {(string.IsNullOrEmpty(r.ContentType) ? "no content type" : r.ContentType)})",
            413 => "the request body is larger than the service's limit",
            _ => null,
        };
    }

    /// <summary>The problem type of a face refused by the liveness check: apart from the quality 422, so clients tell them apart.</summary>
    public const string PresentationAttackType = "/problems/presentation-attack";

    /// <summary>422 for a face the liveness check refuses, with its verdict (live false, or null with the reason), score and threshold.</summary>
    public static ProblemHttpResult Attack(FaceNet.Liveness.PresentationAttackException e)
        => TypedResults.Problem(statusCode: 422, title: e.Result.Live is null ? "Liveness cannot be judged" : "Presentation attack", detail: e.Message,
            type: PresentationAttackType, extensions: new Dictionary<string, object?>
            {
                ["live"] = e.Result.Live, ["score"] = Math.Round(e.Result.Score, 6), ["threshold"] = e.Result.Threshold, ["reason"] = e.Result.Reason,
                ["box"] = e.Result.Box.ToArray(),
            });

    public static ProblemHttpResult BadRequest(string detail) => Status(400, "Bad request", detail);
    public static ProblemHttpResult Unauthorized(string detail) => Status(401, "Unauthorized", detail);
    public static ProblemHttpResult Forbidden(string detail) => Status(403, "Forbidden", detail);
    public static ProblemHttpResult NotFound(string detail) => Status(404, "Not found", detail);
    public static ProblemHttpResult Conflict(string detail) => Status(409, "Conflict", detail);
    public static ProblemHttpResult TooLarge(long limit) => Status(413, "Request too large", $"the request body is larger than the limit of {limit} bytes");
    public static ProblemHttpResult NotMultipart(string? got) => Status(415, "Unsupported media type",
        $"send the image as multipart/form-data (got {(string.IsNullOrEmpty(got) ? "no content type" : got)})");
}
