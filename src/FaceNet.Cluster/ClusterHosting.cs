using System.Net;
using FaceNet.Cluster.Membership;
using FaceNet.Cluster.Shards;
using FaceNet.Gallery.Protection;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Configuration;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;

namespace FaceNet.Cluster;

/// <summary>Where a silo of a FaceNet cluster listens and which gallery it serves.</summary>
public sealed record FaceClusterOptions
{
    /// <summary>The PostgreSQL database of the gallery (schema <c>facenet</c>) and of the cluster's membership (schema <c>orleans</c>).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>Silos with the same id over the same database form one cluster.</summary>
    public string ClusterId { get; init; } = "facenet";

    /// <summary>Silo-to-silo port (Orleans' default 11111).</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port for Orleans clients (Orleans' default 30000).</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos reach this one at (default loopback: a cluster on one machine); another address listens on every interface.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Shards of a new gallery (default 64); a gallery that has its count keeps it, and another one asked for is refused.</summary>
    public int? Shards { get; init; }

    /// <summary>The master key of an encrypted gallery.</summary>
    public MasterKey? Key { get; init; }

    /// <summary>
    /// Where this silo keeps its shards' saved graphs on its own disk (default <see cref="ShardGraphs.DefaultDirectory"/>); null keeps
    /// them in the database only. Every saved graph is also in the database, where the silo that takes a shard over finds it.
    /// </summary>
    public string? GraphDirectory { get; init; } = ShardGraphs.DefaultDirectory;

    /// <summary>How each shard searches its faces (default: <see cref="Gallery.FaceIndexOptions"/>' own: compact from 10,000 faces on).</summary>
    public Gallery.FaceIndexOptions? Index { get; init; }

    public const int DefaultShards = 64;
}

/// <summary>How a process becomes a silo of a FaceNet cluster.</summary>
public static class ClusterHosting
{
    /// <summary>
    /// Keeps the silo's cluster membership in the PostgreSQL database the connection string names (schema
    /// <c>orleans</c>, made when missing): the database that holds the galleries, so a cluster needs nothing else.
    /// </summary>
    public static ISiloBuilder UsePostgresMembership(this ISiloBuilder silo, string connectionString, string clusterId)
    {
        silo.Services.AddSingleton<IMembershipTable>(new PostgresMembershipTable(connectionString, clusterId));
        return silo;
    }

    /// <summary>
    /// Makes an Orleans client of the cluster whose membership is in that database (it finds the active silos'
    /// gateways there): a process that asks the shards without holding any, such as <c>facenet bench cluster</c>.
    /// </summary>
    public static IClientBuilder UsePostgresGateways(this IClientBuilder client, string connectionString, string clusterId)
    {
        client.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = "facenet"; });
        client.Services.AddSingleton<Orleans.Messaging.IGatewayListProvider>(new PostgresGatewayList(connectionString, clusterId));
        return client;
    }

    /// <summary>Hosts shards of the gallery in that database, cut into <paramref name="shards"/> (placed over the silos by <see cref="ShardPlacement"/>).</summary>
    public static ISiloBuilder AddGalleryShards(this ISiloBuilder silo, string connectionString, int shards, MasterKey? key = null,
        Gallery.FaceIndexOptions? index = null, string? graphDirectory = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        silo.Services.AddSingleton(new ShardSettings(connectionString, shards, key) { Index = index, GraphDirectory = graphDirectory });
        silo.Services.AddSingleton<LocalShards>();
        silo.Services.AddPlacementDirector<ShardPlacementStrategy, ShardPlacementDirector>();
        silo.Services.AddHostedService<ShardFollower>();
        silo.Services.AddHostedService<ShardRebalancer>();
        return silo;
    }

    /// <summary>
    /// Everything a FaceNet silo needs: endpoints, membership and shards in the gallery's PostgreSQL, and failure
    /// detection tuned for a small cluster (see <see cref="TuneFailureDetection"/>). Returns the gallery's shard count.
    /// </summary>
    public static int UseFaceNetCluster(this ISiloBuilder silo, FaceClusterOptions options)
    {
        int shards = ShardLayout.Fix(options.ConnectionString, options.Shards ?? FaceClusterOptions.DefaultShards);
        if (options.Shards is { } asked && asked != shards)
            throw new SettingException("--shards", $"the gallery is cut into {shards} shards already (fixed when the cluster first started); {asked} cannot be used");
        silo.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = "facenet"; })
            .ConfigureEndpoints(options.AdvertisedAddress, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(options.AdvertisedAddress))
            .UsePostgresMembership(options.ConnectionString, options.ClusterId)
            .AddGalleryShards(options.ConnectionString, shards, options.Key, options.Index, options.GraphDirectory);
        TuneFailureDetection(silo);
        return shards;
    }

    /// <summary>Leaves out the start-up notes of Orleans that say nothing about the cluster's health (server GC, a watchdog that slept through start).</summary>
    public static ILoggingBuilder QuietOrleansStartNotes(this ILoggingBuilder logging)
        => logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error)
            .AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);

    /// <summary>
    /// Orleans' defaults suit hundreds of silos over a slow network (a dead silo is declared in tens of
    /// seconds). A FaceNet cluster is a few silos on one network: each probes up to three others every second
    /// and three missed probes with two votes declare a silo dead, so a killed silo's shards move in a few
    /// seconds; a call waits 10 s at most before the front end answers 503. A shard may take minutes to load.
    /// </summary>
    public static void TuneFailureDetection(ISiloBuilder silo)
    {
        silo.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = TimeSpan.FromSeconds(1);
            m.NumMissedProbesLimit = 3;
            m.NumVotesForDeathDeclaration = 2;
            m.TableRefreshTimeout = TimeSpan.FromSeconds(5);
            m.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            m.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(30);
        });
        silo.Configure<SiloMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromSeconds(10));
        // a shard of a large gallery reads its rows, and builds its graph the first time (minutes for a million faces on a busy machine),
        // waiting its turn behind the others: far longer than Orleans' 30 s default
        silo.Configure<GrainCollectionOptions>(g => g.ActivationTimeout = TimeSpan.FromHours(2));
    }
}
