using System.Reflection;
using FaceNet.Cluster;
using FaceNet.Gallery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace FaceNet.Service;

/// <summary>
/// The HTTP service: one <see cref="FaceRecognizer"/> and one gallery per process, Kestrel in front.
/// <code>
/// await using var service = await FaceServiceHost.StartAsync(new ServiceOptions { Gallery = "people.db" });
/// Console.WriteLine(service.Address);   // http://127.0.0.1:5080
/// await service.WaitForShutdownAsync(); // Ctrl+C or SIGTERM: in-flight requests finish first
/// </code>
/// </summary>
public sealed class FaceServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FaceNetParts _parts;
    private int _disposed;

    private FaceServiceHost(WebApplication app, FaceNetParts parts)
    {
        _app = app;
        _parts = parts;
    }

    /// <summary>The address Kestrel listens on (the real port when 0 was asked for).</summary>
    public string Address { get; private set; } = "";

    public FaceRecognizer Recognizer => _parts.Faces;
    public FaceGallery? Gallery => _parts.Gallery;

    /// <summary>The gallery in shards over the cluster, when the service is a silo of one (<see cref="ServiceOptions.Cluster"/>).</summary>
    public FaceNet.Cluster.Shards.ShardedGallery? Sharded => _parts.Sharded;

    /// <summary>Every tenant's gallery (null without a gallery).</summary>
    public Tenants? Tenants => _parts.Tenants;
    public ServiceMetrics Metrics => _parts.Metrics;

    /// <summary>Loads the model, opens the gallery, starts listening; a bad model, gallery, keys file or address throws here.</summary>
    public static async Task<FaceServiceHost> StartAsync(ServiceOptions options, ILoggerProvider? logs = null)
    {
        var app = Build(options, logs);
        try
        {
            var parts = app.Services.GetRequiredService<FaceNetParts>(); // the model and the gallery: their faults surface here
            var host = new FaceServiceHost(app, parts);
            app.MapFaceNetApi();
            MapHostPages(app, parts);
            // said at start: which tenants' galleries cannot be opened (their requests are answered 503 with the reason)
            foreach (var (tenant, reason) in parts.Tenants?.Check() ?? [])
                parts.Log?.LogWarning("tenant {Tenant} cannot be opened: {Reason}; its requests are answered 503", tenant, reason);
            try { await app.StartAsync().ConfigureAwait(false); }
            catch (IOException e) { throw new ServiceAddressException(options.Urls, e.Message, e); } // Kestrel could not bind
            host.Address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return host;
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? LoadCertificate(ServiceOptions options)
    {
        if (options.HttpsCertificateFile is null && options.HttpsKeyFile is null)
            return options.Urls.Contains("https://", StringComparison.OrdinalIgnoreCase)
                ? throw new ServiceTlsException(options.Urls, "an https:// address needs a certificate and its private key")
                : null;
        var cert = options.HttpsCertificateFile ?? throw new ServiceTlsException(options.HttpsKeyFile!, "a private key without its certificate (give both)");
        var key = options.HttpsKeyFile ?? throw new ServiceTlsException(cert, "a certificate without its private key (give both)");
        foreach (var f in new[] { cert, key })
            if (!File.Exists(f)) throw new ServiceTlsException(f, "no such file");
        try
        {
            using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(cert, key);
            // exported and loaded again: on Linux a PEM-made certificate's key is ephemeral, which SslStream refuses
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ServiceTlsException(cert, $"not a usable certificate and key ({e.Message})");
        }
    }

    private static WebApplication Build(ServiceOptions options, ILoggerProvider? logs)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.QuietOrleansStartNotes();
        builder.WebHost.UseUrls(options.Urls);
        var certificate = LoadCertificate(options);
        builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves HTTPS out until asked
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            if (certificate is not null)
                k.ConfigureHttpsDefaults(h =>
                {
                    h.ServerCertificate = certificate;
                    h.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
                });
        });
        // a year, and on every host name: the service is reached by address in tests and small deployments
        builder.Services.AddHsts(h =>
        {
            h.MaxAge = TimeSpan.FromDays(365);
            h.ExcludedHosts.Clear();
        });
        if (options.Cluster is { } cluster)
        {
            if (options.Gallery is not { } db || !GalleryStores.IsPostgres(db))
                throw new SettingException("--cluster", "a cluster keeps its gallery in PostgreSQL: give -g \"Host=…;Database=…\"");
            int shards = 0;
            builder.UseOrleans(silo => shards = silo.UseFaceNetCluster(cluster with { ConnectionString = db, Key = options.MasterKey }));
            builder.Services.AddSingleton(_ => new ClusterShards(shards));
        }
        builder.Services.AddFaceNet(options);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.RequestTimeout + TimeSpan.FromSeconds(5));
        // the OpenAPI document's names follow these, so they are the API's own
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            j.SerializerOptions.PropertyNamingPolicy = FaceNetApi.Json.PropertyNamingPolicy;
            j.SerializerOptions.Encoder = FaceNetApi.Json.Encoder;
        });
        builder.Services.AddFaceNetOpenApi();
        var app = builder.Build();
        if (options.TrustedProxies.Count > 0)
        {
            // the client's address is the one the named proxies forward (audit trail, failed-authentication limit), else the connection's
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = null };
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            foreach (var proxy in options.TrustedProxies) forwarded.KnownProxies.Add(proxy);
            app.UseForwardedHeaders(forwarded);
        }
        if (certificate is not null) app.UseHsts(); // only answers over HTTPS carry it
        app.UseExceptionHandler();   // a fault of ours: a 500 problem without a stack trace
        app.UseRefusedBodyDraining(options.MaxBodyBytes,
            options.RequestTimeout); // what a refused client sent is read (up to 4× the limit) before the request ends
        app.UseStatusCodePages();    // empty error answers (unknown route, wrong method) as problems too
        return app;
    }

    /// <summary>What the stand-alone service adds around the API: metrics, health, readiness, OpenAPI, the reference and the web page.</summary>
    private static void MapHostPages(WebApplication app, FaceNetParts parts)
    {
        app.UseHttpMetrics(o => o.SetMetricFactory(Prometheus.Metrics.WithCustomRegistry(parts.Metrics.Registry)));
        app.MapFaceNetHealth();
        app.MapFaceNetMetrics();
        app.MapFaceNetDocs();
        var page = ReadResource("web/index.html");
        app.MapGet("/", () => Results.Bytes(page, "text/html; charset=utf-8")).ExcludeFromDescription();
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
        await _app.DisposeAsync().ConfigureAwait(false); // the parts with it: batching loop, gallery, model, keys
    }
}
