using System.Reflection;
using FaceNet.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace FaceNet.Service;

// The API's success answers as typed results: written with the API's own JSON (snake_case, whatever the host app's
// JSON settings, which TypedResults.Ok would use), and described in the OpenAPI document from the handler's return
// type, as ASP.NET Core's own typed results are.

/// <summary>200 with a body of the API's JSON.</summary>
internal sealed class ApiOk<T>(T value) : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<T>, IContentTypeHttpResult
{
    public T Value => value;
    object? IValueHttpResult.Value => value;
    int? IStatusCodeHttpResult.StatusCode => StatusCodes.Status200OK;
    public string ContentType => "application/json";

    public Task ExecuteAsync(HttpContext httpContext) => TypedResults.Json(value, ApiJson.Options).ExecuteAsync(httpContext);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}

/// <summary>201 with the new resource's address and a body of the API's JSON.</summary>
internal sealed class ApiCreated<T>(string location, T value) : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<T>, IContentTypeHttpResult
{
    public T Value => value;
    object? IValueHttpResult.Value => value;
    int? IStatusCodeHttpResult.StatusCode => StatusCodes.Status201Created;
    public string ContentType => "application/json";

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.Headers.Location = location;
        return TypedResults.Json(value, ApiJson.Options, statusCode: StatusCodes.Status201Created).ExecuteAsync(httpContext);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status201Created, typeof(T), ["application/json"]));
}
