using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FaceNet.Cluster;

/// <summary>
/// A silo that holds shards of the gallery and answers no HTTP: a storage node of the cluster, beside the
/// front ends (<c>facenet serve --cluster</c>, which are silos too). <c>facenet cluster silo</c> runs one.
/// </summary>
public sealed class ClusterSilo : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterSilo(IHost host, int shards)
    {
        _host = host;
        Shards = shards;
    }

    /// <summary>The gallery's shard count.</summary>
    public int Shards { get; }

    /// <summary>Joins the cluster; a port in use or an unreachable database throws here.</summary>
    public static async Task<ClusterSilo> StartAsync(FaceClusterOptions options, ILoggerProvider? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.QuietOrleansStartNotes();
        int shards = 0;
        builder.UseOrleans(s => shards = s.UseFaceNetCluster(options));
        var host = builder.Build();
        try { await host.StartAsync().ConfigureAwait(false); }
        catch
        {
            host.Dispose();
            throw;
        }
        return new ClusterSilo(host, shards);
    }

    /// <summary>Runs until Ctrl+C or SIGTERM; the silo then leaves the cluster and its shards move to the others.</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _host.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
    }
}
