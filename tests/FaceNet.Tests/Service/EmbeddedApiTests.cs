using System.Net.Http.Json;
using System.Text.Json;
using FaceNet.Service;
using FaceNet.Service.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FaceNet.Tests.Service;

/// <summary>The API mapped into an app of the user's own, with its own routes and JSON settings, as the README shows.</summary>
public sealed class EmbeddedApiTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-embedded-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_api_inside_your_own_app_answers_as_the_service_does()
    {
        var keys = Path.Combine(_dir, "keys.json");
        var key = ApiKeys.Add(keys, "app", [Scope.Verify, Scope.Enroll, Scope.Identify], 1000);

        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddFaceNet(new ServiceOptions { Gallery = Path.Combine(_dir, "people.db"), KeysFile = keys });
        await using var app = builder.Build();
        app.MapGet("/hello", () => new { GreetingText = "hi" }); // the app's own route, with the app's own (camelCase) JSON
        app.MapFaceNetApi();
        await app.StartAsync();

        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(120) };
        http.DefaultRequestHeaders.Add("X-API-Key", key);
        Assert.Equal("hi", (await http.GetFromJsonAsync<JsonElement>("/hello")).GetProperty("greetingText").GetString());

        var verify = await http.PostAsync("/v1/verify", RunningService.Form(("image1", RunningService.Sample("person_a_1.jpg")), ("image2", RunningService.Sample("person_a_2.jpg"))));
        var verdict = await verify.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(200, (int)verify.StatusCode);
        Assert.True(verdict.GetProperty("same").GetBoolean());
        Assert.True(verdict.TryGetProperty("threshold_source", out _), verdict.ToString()); // the API's snake_case, not the app's camelCase

        var enrol = await http.PostAsync("/v1/subjects/Ann/faces", RunningService.Form(("image", RunningService.Sample("person_a_1.jpg"))));
        Assert.Equal(201, (int)enrol.StatusCode);
        Assert.Equal("/v1/subjects/Ann", enrol.Headers.Location?.ToString());
        var who = await (await http.PostAsync("/v1/identify", RunningService.Form(("image", RunningService.Sample("person_a_2.jpg"))))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Ann", who.GetProperty("faces")[0].GetProperty("name").GetString());

        // a client's fault is a problem, whatever the app configured
        var bad = await http.PostAsync("/v1/embed", RunningService.Form(("image", keys)));
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        Assert.Contains("not", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        using var anonymous = new HttpClient { BaseAddress = http.BaseAddress };
        Assert.Equal(401, (int)(await anonymous.PostAsync("/v1/detect", RunningService.Form(("image", RunningService.Sample("person_b.jpg"))))).StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task Health_metrics_and_docs_are_one_call_each_and_errors_are_the_same_problems_as_the_service_gives()
    {
        var keys = Path.Combine(_dir, "keys.json");
        var key = ApiKeys.Add(keys, "app", [Scope.Verify], 1000);
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddFaceNet(new ServiceOptions { Gallery = Path.Combine(_dir, "people.db"), KeysFile = keys });
        builder.Services.AddFaceNetOpenApi();
        await using var app = builder.Build();
        app.MapFaceNetApi();
        app.MapFaceNetHealth();   // /healthz, /readyz
        app.MapFaceNetMetrics();  // /metrics
        app.MapFaceNetDocs();     // /openapi/v1.json, /docs
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(120) };
        Assert.Equal("ok", await http.GetStringAsync("/healthz"));
        Assert.Equal("ready", await http.GetStringAsync("/readyz"));
        Assert.Contains("facenet_gallery_subjects", await http.GetStringAsync("/metrics"));
        var doc = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(doc.GetProperty("paths").TryGetProperty("/v1/identify", out _));
        Assert.Equal(200, (int)(await http.GetAsync("/docs")).StatusCode);

        // the problems: trace_id as the service writes it, and a body for the framework's own refusals under /v1
        http.DefaultRequestHeaders.Add("X-API-Key", key);
        var bad = await (await http.PostAsync("/v1/embed", RunningService.Form(("image", keys)))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(bad.TryGetProperty("trace_id", out _), bad.ToString());
        Assert.False(bad.TryGetProperty("traceId", out _), bad.ToString());
        var missing = await http.GetAsync("/v1/no-such-thing");
        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no such endpoint", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        var json = await http.PostAsync("/v1/verify", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(415, (int)json.StatusCode);
        Assert.Contains("multipart", (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        await app.StopAsync();
    }
}
