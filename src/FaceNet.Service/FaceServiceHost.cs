using System.Reflection;
using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Service.Inference;
using FaceNet.Service.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scalar.AspNetCore;

namespace FaceNet.Service;

/// <summary>
/// The HTTP service: one <see cref="FaceRecognizer"/> and one gallery per process, Kestrel in front.
/// <code>
/// await using var service = await FaceServiceHost.StartAsync(new ServiceOptions { Gallery = "people.db" });
/// Console.WriteLine(service.Address);   // http://127.0.0.1:5080
/// await service.WaitForShutdownAsync(); // Ctrl+C or SIGTERM: in-flight requests finish first
/// </code>
/// </summary>
/// <summary>The service cannot listen where it was asked to (address in use, not permitted, not an address).</summary>
public sealed class ServiceAddressException(string urls, string reason, Exception? inner = null)
    : FaceNetException(urls, reason, inner, kind: FaceNetErrorKind.Unavailable);

public sealed class FaceServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FaceRecognizer _faces;
    private readonly FaceGallery? _gallery;
    private readonly FaceWork _work;
    private readonly KeyCheck _keys;
    private readonly CancellationTokenSource _stopFollowing = new();
    private Task _follow = Task.CompletedTask;
    private volatile string? _followProblem;
    private int _disposed;

    private FaceServiceHost(WebApplication app, FaceRecognizer faces, FaceGallery? gallery, FaceWork work, KeyCheck keys, ServiceMetrics metrics)
    {
        _app = app;
        _faces = faces;
        _gallery = gallery;
        _work = work;
        _keys = keys;
        Metrics = metrics;
    }

    public ServiceMetrics Metrics { get; }

    /// <summary>The address Kestrel listens on (the real port when 0 was asked for).</summary>
    public string Address { get; private set; } = "";

    public FaceRecognizer Recognizer => _faces;
    public FaceGallery? Gallery => _gallery;

    /// <summary>Loads the model, opens the gallery, starts listening. Problems with the model, gallery or keys file throw before anything listens.</summary>
    public static async Task<FaceServiceHost> StartAsync(ServiceOptions options, ILoggerProvider? logs = null)
    {
        var metrics = new ServiceMetrics();
        var keys = new KeyCheck(options.KeysFile, metrics);
        // threads not set: one per detecting worker, the rest for the embedding loop (see ServiceOptions.Workers)
        bool auto = options.Recognizer.Threads == 0;
        var recognizerOptions = options.Recognizer with
        {
            Threads = auto ? Math.Max(1, Environment.ProcessorCount - options.Workers) : options.Recognizer.Threads,
            DetectorThreads = options.Recognizer.DetectorThreads ?? (auto ? 1 : null),
            ImageLimits = new ImageLimits { MaxFileBytes = options.MaxBodyBytes, MaxPixels = options.MaxPixels },
            ModelOptions = (options.Recognizer.ModelOptions ?? new Embedding.FaceModelOptions()) with { MaxBatch = options.MaxBatch },
        };
        var faces = FaceRecognizer.Create(recognizerOptions);
        FaceGallery? gallery = null;
        FaceWork? work = null;
        try
        {
            if (options.Gallery is { } g) gallery = FaceGallery.Open(g, GalleryModel.For(faces.Model));
            work = new FaceWork(faces, options, metrics);
            var app = Build(options, faces, gallery, work, keys, metrics, logs);
            var host = new FaceServiceHost(app, faces, gallery, work, keys, metrics);
            app.MapGet("/readyz", () =>
                app.Lifetime.ApplicationStopping.IsCancellationRequested ? Problems.Status(503, "Not ready", "shutting down")
                : host._followProblem is { } p ? Problems.Status(503, "Not ready", "the gallery cannot be followed: " + p)
                : Results.Text("ready")).ExcludeFromDescription();
            try { await app.StartAsync().ConfigureAwait(false); }
            catch (IOException e) { throw new ServiceAddressException(options.Urls, e.Message, e); } // Kestrel could not bind
            host.Address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            if (gallery is not null) host._follow = host.FollowGallery(options);
            return host;
        }
        catch
        {
            if (work is not null) await work.DisposeAsync().ConfigureAwait(false);
            gallery?.Dispose();
            faces.Dispose();
            keys.Dispose();
            throw;
        }
    }

    // Other replicas' (and other processes') changes, applied as they come.
    private Task FollowGallery(ServiceOptions options) => _gallery!.FollowAsync(options.FollowPoll, e =>
    {
        _followProblem = e?.Message;
        if (e is not null) _app.Logger.LogWarning("gallery: {Problem}", e.Message);
    }, _stopFollowing.Token);

    private static WebApplication Build(ServiceOptions options, FaceRecognizer faces, FaceGallery? gallery, FaceWork work, KeyCheck keys, ServiceMetrics metrics, ILoggerProvider? logs)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        });
        builder.Services.Configure<FormOptions>(f =>
        {
            f.MultipartBodyLengthLimit = options.MaxBodyBytes;
            f.ValueCountLimit = 16;
            f.MultipartHeadersLengthLimit = 16 * 1024;
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.RequestTimeout + TimeSpan.FromSeconds(5));
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.Explain);
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "FaceNet for .NET";
            doc.Info.Version = PackageVersion;
            doc.Info.Description = "Face verification, embeddings, detection, enrolment and open-set identification. Send your key in the X-API-Key header.";
            doc.Components ??= new Microsoft.OpenApi.OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes["ApiKey"] = new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.ApiKey, In = Microsoft.OpenApi.ParameterLocation.Header, Name = "X-API-Key",
                Description = "A key from 'facenet keys add NAME --scopes …'",
            };
            doc.Security = [new Microsoft.OpenApi.OpenApiSecurityRequirement { [new Microsoft.OpenApi.OpenApiSecuritySchemeReference("ApiKey", doc)] = [] }];
            return Task.CompletedTask;
        }));
        var app = builder.Build();

        app.UseExceptionHandler();   // a fault of ours: a 500 problem without a stack trace
        app.UseStatusCodePages();    // empty error answers (unknown route, wrong method) as problems too
        app.UseHttpMetrics(o => o.SetMetricFactory(Prometheus.Metrics.WithCustomRegistry(metrics.Registry)));
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            if (gallery is null) return;
            metrics.GalleryFaces.Set(gallery.FaceCount);
            metrics.GallerySubjects.Set(gallery.SubjectCount);
            metrics.GallerySequence.Set(gallery.Sequence);
        });

        var api = new FaceApi(work, gallery, keys, options);
        app.MapPost("/v1/verify", (Delegate)api.Verify).Accepts<VerifyForm>("multipart/form-data").Produces<VerifyResponse>().WithSummary("Verify two photos").WithDescription("Are the faces of two photos the same person? Fields image1 and image2; each photo's subject is compared, or with ?pick=best the closest pair of any of their faces. Scope verify.").WithTags("faces").ClientErrors();
        app.MapPost("/v1/embed", (Delegate)api.Embed).Accepts<ImageForm>("multipart/form-data").Produces<FacesResponse>().WithSummary("Embed faces").WithDescription("Every face of the photo (field image) with its box, score, landmarks and unit-length embedding. Scope verify.").WithTags("faces").ClientErrors();
        app.MapPost("/v1/detect", (Delegate)api.Detect).Accepts<ImageForm>("multipart/form-data").Produces<FacesResponse>().WithSummary("Detect faces").WithDescription("Every face of the photo (field image): box [x, y, w, h], score and five landmarks. Scope verify.").WithTags("faces").ClientErrors();
        app.MapPost("/v1/identify", (Delegate)api.Identify).Accepts<ImageForm>("multipart/form-data").Produces<IdentifyResponse>().WithSummary("Identify faces").WithDescription("Who is each face of the photo (field image)? The nearest subject when within the threshold, else unknown (name null), with ?top=N candidates (default 3). The threshold is chosen for a target FPIR (?fpir=, default 0.01: the share of strangers' searches that may get a name) from the gallery's size and the model's impostor tail; each face says the threshold, the rule, the FPIR and the comparisons. Scope identify.").WithTags("gallery").ClientErrors();
        app.MapPost("/v1/subjects/{name}/faces", (Delegate)api.Enroll).Accepts<ImageForm>("multipart/form-data").Produces<EnrollResponse>(201).WithSummary("Enrol a face").WithDescription("Adds the photo's subject (field image) to the named subject, created when new; committed before the 201. A face below the quality floor is 422 (?force=true enrols it), a face the gallery identifies as another subject 409 (?allow_duplicate=true enrols it). Scope enroll.").WithTags("gallery").ClientErrors().ProducesProblem(409).ProducesProblem(422);
        app.MapGet("/v1/subjects", (Delegate)api.Subjects).Produces<SubjectsResponse>().WithSummary("List subjects").WithDescription("The enrolled subjects and their face counts. Scope identify.").WithTags("gallery").ClientErrors();
        app.MapDelete("/v1/subjects/{name}", (Delegate)api.Remove).Produces(204).WithSummary("Erase a subject").WithDescription("Deletes the subject and every face of it, from the store and every replica's index. Scope admin.").WithTags("gallery").ClientErrors();

        app.MapGet("/healthz", () => Results.Text("ok")).ExcludeFromDescription();
        app.MapMetrics("/metrics", metrics.Registry);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", o => o.WithTitle("FaceNet for .NET API").WithOpenApiRoutePattern("/openapi/{documentName}.json").HideClientButton());
        var page = ReadResource("web/index.html");
        app.MapGet("/", () => Results.Bytes(page, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    /// <summary>The package's version (without the commit), which the OpenAPI document states.</summary>
    public static string PackageVersion { get; } = (typeof(FaceServiceHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private static byte[] ReadResource(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream(name) ?? throw new InvalidOperationException($"resource {name} missing from the build");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>Runs until Ctrl+C or SIGTERM (or <paramref name="ct"/>), then stops as <see cref="DisposeAsync"/> does.</summary>
    public async Task WaitForShutdownAsync(CancellationToken ct = default)
    {
        await _app.WaitForShutdownAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Stops listening, lets the requests in flight finish, then releases the model and the gallery.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _app.StopAsync().ConfigureAwait(false);
        _stopFollowing.Cancel();
        await _follow.ConfigureAwait(false);
        await _work.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _gallery?.Dispose();
        _faces.Dispose();
        _keys.Dispose();
        _stopFollowing.Dispose();
    }
}

internal static class OpenApiProblems
{
    /// <summary>The problem answers every /v1 endpoint may give, for the OpenAPI document.</summary>
    public static RouteHandlerBuilder ClientErrors(this RouteHandlerBuilder b)
    {
        foreach (var status in new[] { 400, 401, 403, 404, 413, 415, 429, 503 }) b.ProducesProblem(status);
        return b;
    }
}
