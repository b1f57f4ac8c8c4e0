using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace FaceNet.Service;

/// <summary>
/// The body of a refused request is read and discarded, up to 4× the body limit, before the request ends:
/// clients that send their whole body before they read the answer (Python's urllib and requests) would
/// otherwise meet a closed connection — a broken pipe — instead of the 413, 415, 401 or 404 problem. A
/// longer body is not read: the answer says the connection closes.
/// </summary>
public static class RefusedBodies
{
    /// <summary>How much of a refused body is read: 4× the limit.</summary>
    public static long Bound(long maxBodyBytes) => maxBodyBytes * 4;

    /// <summary>
    /// Drains the unread body of every request answered with an error, for the answers the framework gives
    /// itself (unknown route, wrong method, wrong content type); the API's own endpoints drain theirs.
    /// </summary>
    public static IApplicationBuilder UseRefusedBodyDraining(this IApplicationBuilder app, long maxBodyBytes, TimeSpan timeout)
        => app.Use(async (http, next) =>
        {
            await next(http);
            if (http.Response.StatusCode >= 400) await DrainAsync(http, maxBodyBytes, timeout);
        });

    internal static void RaiseLimit(HttpContext http, long bound)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = bound;
    }

    internal static async Task DrainAsync(HttpContext http, long maxBodyBytes, TimeSpan timeout)
    {
        long bound = Bound(maxBodyBytes);
        if (http.Request.ContentLength is 0 || !http.Request.Body.CanRead) return;
        if (http.Request.ContentLength > bound)
        {
            if (!http.Response.HasStarted) http.Response.Headers.Connection = "close";
            return;
        }
        RaiseLimit(http, bound);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        limit.CancelAfter(timeout);
        var buffer = new byte[81920];
        long read = 0;
        try
        {
            int n;
            while ((n = await http.Request.Body.ReadAsync(buffer, limit.Token)) > 0)
                if ((read += n) > bound)
                {
                    if (!http.Response.HasStarted) http.Response.Headers.Connection = "close";
                    return;
                }
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            if (!http.Response.HasStarted) http.Response.Headers.Connection = "close";
        }
    }
}
