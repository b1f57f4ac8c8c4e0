using FaceNet.Contracts;
using System.Text.Json;
using FaceNet.Cluster.Shards;
using FaceNet.Gallery;
using FaceNet.Service.Inference;
using FaceNet.Service.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scalar.AspNetCore;

namespace FaceNet.Service;

/// <summary>
/// The FaceNet HTTP API inside your own ASP.NET Core app:
/// <code>
/// builder.Services.AddFaceNet(new ServiceOptions { Gallery = "people.db", KeysFile = "keys.json" });
/// app.MapFaceNetApi();   // POST /v1/verify, /v1/embed, /v1/detect, /v1/identify, /v1/subjects…
/// </code>
/// The endpoints answer as <c>facenet serve</c> does (snake_case JSON, problem details, API keys); the
/// recognizer, gallery, batching loop and keys are one singleton, built when the API is mapped and
/// disposed with the app.
/// </summary>
public static class FaceNetApi
{
    /// <summary>The API's JSON: what every endpoint answers, whatever the host app's own JSON settings (<see cref="ApiJson.Options"/>).</summary>
    public static JsonSerializerOptions Json => ApiJson.Options;

    /// <summary>Registers the API's parts for <paramref name="options"/>; the multipart limits and problem details it needs.</summary>
    public static IServiceCollection AddFaceNet(this IServiceCollection services, ServiceOptions? options = null)
    {
        options ??= new ServiceOptions();
        services.AddSingleton(options);
        services.AddSingleton(sp => FaceNetParts.Create(options, sp.GetService<ILoggerFactory>(), sp));
        services.AddHostedService<GalleryFollower>();
        services.AddHostedService<RetentionSweep>();
        services.AddHostedService<DenialsWriter>();
        services.Configure<FormOptions>(f =>
        {
            f.MultipartBodyLengthLimit = options.MaxBodyBytes;
            f.ValueCountLimit = 16;
            f.MultipartHeadersLengthLimit = 16 * 1024;
        });
        services.AddProblemDetails();
        services.Configure<ProblemDetailsOptions>(o =>
        {
            var theirs = o.CustomizeProblemDetails;
            o.CustomizeProblemDetails = ctx => { theirs?.Invoke(ctx); Problems.Explain(ctx); };
        });
        // the API's error answers are problems with a body in any app: the framework's own (unknown route, wrong method or
        // content type) too, and a refused body is read first (see RefusedBodies), for /v1 only
        services.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(new ApiErrorPages(options));
        return services;
    }

    private sealed class ApiErrorPages(ServiceOptions options) : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseWhen(http => http.Request.Path.StartsWithSegments("/v1"), v1 =>
            {
                v1.UseRefusedBodyDraining(options.MaxBodyBytes, options.RequestTimeout);
                v1.UseStatusCodePages();
            });
            next(app);
        };
    }

    /// <summary>The OpenAPI document of the API (<c>/openapi/v1.json</c> with <see cref="MapFaceNetDocs"/>): its title, version and key scheme.</summary>
    public static IServiceCollection AddFaceNetOpenApi(this IServiceCollection services, string documentName = "v1")
        => services.AddOpenApi(documentName, o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "FaceNet for .NET";
            doc.Info.Version = FaceServiceHost.PackageVersion;
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

    /// <summary><c>GET /healthz</c> (the process answers) and <c>GET /readyz</c> (503 naming why while the gallery cannot be followed or written, or the app stops).</summary>
    public static IEndpointRouteBuilder MapFaceNetHealth(this IEndpointRouteBuilder endpoints)
    {
        var parts = endpoints.ServiceProvider.GetRequiredService<FaceNetParts>();
        var lifetime = endpoints.ServiceProvider.GetRequiredService<IHostApplicationLifetime>();
        endpoints.MapGet("/readyz", () =>
            lifetime.ApplicationStopping.IsCancellationRequested ? Problems.Status(503, "Not ready", "shutting down")
            : parts.NotReady() is { } p ? Problems.Status(503, "Not ready", p)
            : Results.Text("ready")).ExcludeFromDescription();
        endpoints.MapGet("/healthz", () => Results.Text("ok")).ExcludeFromDescription();
        return endpoints;
    }

    /// <summary><c>GET /metrics</c>: the API's Prometheus metrics (requests refused, batches, stages, the gallery's size).</summary>
    public static IEndpointRouteBuilder MapFaceNetMetrics(this IEndpointRouteBuilder endpoints)
    {
        var parts = endpoints.ServiceProvider.GetRequiredService<FaceNetParts>();
        var metrics = parts.Metrics;
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            if (parts.Gallery is not { } gallery) return;
            metrics.GalleryFaces.Set(gallery.FaceCount);
            metrics.GallerySubjects.Set(gallery.SubjectCount);
            metrics.GallerySequence.Set(gallery.Sequence);
        });
        endpoints.MapMetrics("/metrics", metrics.Registry);
        return endpoints;
    }

    /// <summary><c>GET /openapi/v1.json</c> and the API reference page <c>GET /docs</c> (register the document with <see cref="AddFaceNetOpenApi"/>).</summary>
    public static IEndpointRouteBuilder MapFaceNetDocs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi("/openapi/{documentName}.json");
        endpoints.MapScalarApiReference("/docs",
            o => o.WithTitle("FaceNet for .NET API").WithOpenApiRoutePattern("/openapi/{documentName}.json").HideClientButton());
        return endpoints;
    }

    /// <summary>Maps the /v1 endpoints (loading the model and opening the gallery now); returns the group to add conventions to.</summary>
    public static RouteGroupBuilder MapFaceNetApi(this IEndpointRouteBuilder endpoints)
    {
        var parts = endpoints.ServiceProvider.GetRequiredService<FaceNetParts>();
        var api = parts.Api;
        var v1 = endpoints.MapGroup("/v1");
        // each handler's typed answer (ApiOk<T>, ApiCreated<T>, NoContent, problems) describes it in the OpenAPI document; the ones
        // whose only parameter is the request are cast to Delegate, which is not a RequestDelegate that would drop the answer
        v1.MapPost("/verify", api.Verify).Accepts<VerifyForm>("multipart/form-data").WithTags("faces").ClientErrors().ProducesProblem(422)
            .WithSummary("Verify two photos")
            .WithDescription("Are the faces of two photos the same person? Fields image1 and image2; each photo's subject is compared, "
                + "or with ?pick=best the closest pair of any of their faces; ?liveness=true refuses a compared face that is not live (422). Scope verify.");
        v1.MapPost("/liveness", (Delegate)api.Liveness).Accepts<ImageForm>("multipart/form-data").WithTags("faces").ClientErrors()
            .WithSummary("Liveness of faces")
            .WithDescription("Is each face of the photo (field image) a live person or a presentation attack (a photo or a screen held up to the camera)? "
                + "live true/false, or null with a reason when it cannot be judged; the score (mean live probability of the two networks) and the threshold. "
                + "?liveness=true on verify, identify and enrol refuses such faces with a 422 of type /problems/presentation-attack. Scope verify.");
        v1.MapPost("/embed", (Delegate)api.Embed).Accepts<ImageForm>("multipart/form-data").WithTags("faces").ClientErrors()
            .WithSummary("Embed faces")
            .WithDescription("Every face of the photo (field image) with its box, score, landmarks and unit-length embedding. Scope verify.");
        v1.MapPost("/detect", (Delegate)api.Detect).Accepts<ImageForm>("multipart/form-data").WithTags("faces").ClientErrors()
            .WithSummary("Detect faces")
            .WithDescription("Every face of the photo (field image): box [x, y, w, h], score and five landmarks. Scope verify.");
        v1.MapPost("/identify", api.Identify).Accepts<ImageForm>("multipart/form-data").WithTags("gallery").ClientErrors().ProducesProblem(422)
            .WithSummary("Identify faces")
            .WithDescription("Who is each face of the photo (field image)? The nearest subject when within the threshold, else unknown (name null), "
                + "with ?top=N candidates (default 3). The threshold is chosen for a target FPIR (?fpir=, default 0.01: the share of strangers' "
                + "searches that may get a name) from the gallery's size and the model's impostor tail; with the model's pose bands each candidate "
                + "is held to that threshold plus its band's offset for the pose difference between the face and the candidate's stored face "
                + "(faces enrolled before poses were kept count as frontal), and candidates are ranked by distance minus their own threshold; "
                + "each candidate says its threshold, each face the one applied to its best candidate, the rule, "
                + "the FPIR and the comparisons; ?liveness=true refuses a face it would name that is not live (422). Scope identify.");
        v1.MapPost("/subjects/{name}/faces", api.Enroll).Accepts<ImageForm>("multipart/form-data").WithTags("gallery")
            .ClientErrors().ProducesProblem(409).ProducesProblem(422)
            .WithSummary("Enrol a face")
            .WithDescription("Adds the photo's subject (field image) to the named subject, created when new; committed before the 201. A face below "
                + "the quality floor is 422 (?force=true enrols it), a face the gallery identifies as another subject 409 (?allow_duplicate=true "
                + "enrols it); ?liveness=true refuses a face that is not live (422, type /problems/presentation-attack). Scope enroll.");
        v1.MapGet("/subjects", (Delegate)api.Subjects).WithTags("gallery").ClientErrors()
            .WithSummary("List subjects")
            .WithDescription("The enrolled subjects and their face counts. Scope identify.");
        v1.MapDelete("/subjects/{name}", api.Remove).WithTags("gallery").ClientErrors()
            .WithSummary("Erase a subject")
            .WithDescription("Deletes the subject and every face of it, from the store and every replica's index. Scope admin.");
        v1.MapGet("/cluster", (Delegate)api.Cluster).WithTags("cluster").ClientErrors()
            .WithSummary("The cluster")
            .WithDescription("Every silo (address, status, shards, subjects, faces, memory) and where each shard of the gallery is. "
                + "404 when this service is not a cluster (facenet serve --cluster). Scope admin.");
        v1.MapGet("/tenants", (Delegate)api.ListTenants).WithTags("tenants").ClientErrors()
            .WithSummary("List the tenants")
            .WithDescription("Every tenant this service hosts. An admin key of the default tenant.");
        v1.MapPost("/tenants/{name}", api.CreateTenant).WithTags("tenants").ClientErrors()
            .WithSummary("Create a tenant")
            .WithDescription("An empty gallery of its own (its own data key when encrypted). An admin key of the default tenant.");
        v1.MapDelete("/tenants/{name}", api.RemoveTenant).WithTags("tenants").ClientErrors()
            .WithSummary("Remove a tenant")
            .WithDescription("Erases the tenant's gallery: its files, or its schema. An admin key of the default tenant.");
        return v1;
    }

    /// <summary>The problem answers every /v1 endpoint may give, for the OpenAPI document.</summary>
    private static RouteHandlerBuilder ClientErrors(this RouteHandlerBuilder b)
    {
        foreach (var status in new[] { 400, 401, 403, 404, 413, 415, 429, 503 }) b.ProducesProblem(status);
        return b;
    }
}

/// <summary>What the endpoints work with, built once; disposed in order (batching loop, gallery, model, keys).</summary>
internal sealed class FaceNetParts : IAsyncDisposable
{
    private FaceNetParts(ServiceOptions options, FaceRecognizer faces, FaceGallery? gallery, ShardedGallery? sharded, FaceWork work, KeyCheck keys,
        ServiceMetrics metrics, ILogger? log)
    {
        Options = options;
        Faces = faces;
        Gallery = gallery;
        Sharded = sharded;
        // other tenants' galleries, opened when first asked for, each followed from then on (a cluster hosts the default tenant only)
        Tenants = options.Gallery is { } location && sharded is null
            ? new Tenants(location, GalleryModel.For(faces.Model), options.MasterKey, gallery, (g, stop) => g.FollowAsync(options.FollowPoll, null, stop),
                drainWait: options.RequestTimeout + TimeSpan.FromSeconds(10))
            : null;
        // in a cluster, every tenant's gallery in shards of its own
        ClusterTenants = sharded is not null
            ? new ClusterTenants(options.Gallery!, GalleryModel.For(faces.Model), options.MasterKey, sharded.Grains, sharded,
                drainWait: options.RequestTimeout + TimeSpan.FromSeconds(10))
            : null;
        Work = work;
        Keys = keys;
        Metrics = metrics;
        Log = log;
        Api = new FaceApi(work, Tenants, sharded, keys, options, log) { ClusterTenants = ClusterTenants };
    }

    public ServiceOptions Options { get; }
    public FaceRecognizer Faces { get; }
    /// <summary>The default tenant's gallery.</summary>
    public FaceGallery? Gallery { get; }

    /// <summary>The gallery in shards over the cluster, when this process is a silo of one (no FaceGallery then).</summary>
    public ShardedGallery? Sharded { get; }

    /// <summary>A cluster front end's tenants (null outside a cluster).</summary>
    public ClusterTenants? ClusterTenants { get; }

    /// <summary>Every tenant's gallery (null without a gallery, or in a cluster).</summary>
    public Tenants? Tenants { get; }
    public FaceWork Work { get; }
    public KeyCheck Keys { get; }
    public ServiceMetrics Metrics { get; }
    public FaceApi Api { get; }
    public ILogger? Log { get; }

    /// <summary>Why the gallery cannot be followed now (null while it can).</summary>
    public volatile string? FollowProblem;

    /// <summary>Why the service should not be sent requests now (null when it is ready): the default gallery cannot be followed or written.</summary>
    public string? NotReady()
    {
        if (FollowProblem is { } p) return "the gallery cannot be followed: " + p;
        var store = Gallery?.Store ?? Sharded?.Store;
        return store?.WriteProblem();
    }

    /// <summary>The audit trail of a tenant's gallery (the default one for refusals that name no tenant), held while <paramref name="write"/> runs.</summary>
    public void WithTrail(string tenant, Action<IGalleryStore> write)
    {
        if (ClusterTenants is not null)
        {
            using var held = ClusterTenants.Acquire(tenant);
            if (held is not null) write(held.Gallery.Store);
            return;
        }
        using var lease = Tenants?.Acquire(tenant);
        if (lease is not null) write(lease.Gallery.Store);
    }

    public static FaceNetParts Create(ServiceOptions options, ILoggerFactory? logs, IServiceProvider? services = null)
    {
        var metrics = new ServiceMetrics();
        var keys = new KeyCheck(options.KeysFile, metrics, options.FailedAuthPerMinute);
        // threads not set: one per detecting worker, the rest for the embedding loop (see ServiceOptions.Workers)
        bool auto = options.Recognizer.Threads == 0;
        var recognizerOptions = options.Recognizer with
        {
            Threads = auto ? Math.Max(1, Environment.ProcessorCount - options.Workers) : options.Recognizer.Threads,
            DetectorThreads = options.Recognizer.DetectorThreads ?? (auto ? 1 : null),
            ImageLimits = new Imaging.ImageLimits { MaxFileBytes = options.MaxBodyBytes, MaxPixels = options.MaxPixels },
            MaxBatch = options.MaxBatch,
            MaxFaces = options.MaxFaces,
        };
        FaceRecognizer? faces = null;
        FaceGallery? gallery = null;
        ShardedGallery? sharded = null;
        try
        {
            faces = FaceRecognizer.Create(recognizerOptions);
            if (options.Cluster is not null)
            {
                // the silo is made by FaceServiceHost (facenet serve --cluster); an app's own host would open the whole gallery instead
                if (services?.GetService<ClusterShards>() is null)
                    throw new SettingException(nameof(ServiceOptions.Cluster), "a cluster front end is started with FaceServiceHost.StartAsync (or facenet serve --cluster), which makes the process a silo");
                // the store for writes (made here when new, before the shards read it); the faces stay in the shards
                var store = PostgresGalleryStore.Open(options.Gallery!, GalleryModel.For(faces.Model), key: options.MasterKey);
                sharded = new ShardedGallery(services!.GetRequiredService<Orleans.IGrainFactory>(), store,
                    services.GetRequiredService<ClusterShards>().Count);
            }
            else if (options.Gallery is { } g)
            {
                if (Tenants.IsFolder(g)) GalleryTenants.CreateFolder(g);
                try { gallery = FaceGallery.Open(Tenants.DefaultLocation(g), GalleryModel.For(faces.Model), key: options.MasterKey); }
                catch (GalleryException e) when (GalleryTenants.Hosts(g) && e.Kind is FaceNetErrorKind.Locked or FaceNetErrorKind.CorruptStore)
                {
                    // a service over tenants serves the others; the default tenant's requests are answered 503 with the reason
                    logs?.CreateLogger("FaceNet").LogWarning("tenant default cannot be opened: {Problem}; its requests are answered 503", e.Message);
                }
            }
            var work = new FaceWork(faces, options, metrics);
            return new FaceNetParts(options, faces, gallery, sharded, work, keys, metrics, logs?.CreateLogger("FaceNet"));
        }
        catch
        {
            sharded?.Dispose();
            gallery?.Dispose();
            faces?.Dispose();
            keys.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Work.DisposeAsync().ConfigureAwait(false);
        Tenants?.Dispose();
        ClusterTenants?.Dispose();
        Gallery?.Dispose();
        Sharded?.Dispose();
        Faces.Dispose();
        Keys.Dispose();
    }
}

/// <summary>Erases the subjects unused for longer than <see cref="ServiceOptions.Retention"/>: at start, then every <see cref="ServiceOptions.RetentionSweep"/>.</summary>
internal sealed class RetentionSweep(FaceNetParts parts) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = parts.Options;
        if (parts.Tenants is not { } tenants || (o.Retention is null && o.TenantRetention.Count == 0 && o.AuditRetention is null)) return;
        using var timer = new PeriodicTimer(o.RetentionSweep);
        do
        {
            int erased = 0;
            foreach (var name in tenants.List())
            {
                try
                {
                    using var lease = tenants.Acquire(name);
                    if (lease is null) continue;
                    if ((o.TenantRetention.TryGetValue(name, out var own) ? own : o.Retention) is { } period)
                        erased += Gallery.Protection.Retention.Purge(lease.Gallery, period, "(retention)");
                    if (o.AuditRetention is { } keep) lease.Gallery.Store.PruneAudit(DateTime.UtcNow - keep, "(audit retention)");
                }
                catch (FaceNetException e) // one tenant's gallery that cannot be swept now does not stop the others'
                {
                    var problem = e.Message;
                    parts.Log?.LogWarning("retention sweep of tenant {Tenant}: {Problem}", name, problem);
                }
            }
            if (erased > 0 && parts.Log is { } log && log.IsEnabled(LogLevel.Information)) log.LogInformation("retention: {Count} subject(s) erased", erased);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}

/// <summary>
/// Writes the refusals counted before any work (<see cref="Keys.Denials"/>) to the audit trails: one row per client, claimed key
/// and minute, once the minute is over, and what is left when the service stops.
/// </summary>
internal sealed class DenialsWriter(FaceNetParts parts) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false)) Write(all: false);
        }
        catch (OperationCanceledException) { }
        Write(all: true);
    }

    private void Write(bool all)
    {
        foreach (var group in parts.Keys.Denials.Take(all).GroupBy(d => d.Tenant))
        {
            try { parts.WithTrail(group.Key, store => store.Audit([.. group.Select(d => d.Event)])); }
            catch (FaceNetException e)
            {
                parts.Metrics.Rejected("audit_not_written");
                var problem = e.Message;
                parts.Log?.LogWarning("audit trail not written: {Problem}", problem);
            }
        }
    }
}

/// <summary>How many shards the cluster's gallery is cut into (fixed in the database when the cluster first started).</summary>
internal sealed record ClusterShards(int Count);

/// <summary>Other replicas' (and other processes') changes to the gallery, applied as they come, while the app runs.</summary>
internal sealed class GalleryFollower(FaceNetParts parts) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (parts.Gallery is null) return Task.CompletedTask;
        return parts.Gallery.FollowAsync(parts.Options.FollowPoll, e =>
        {
            parts.FollowProblem = e?.Message;
            if (e is not null) parts.Log?.LogWarning("gallery: {Problem}", e.Message);
        }, stoppingToken);
    }
}
