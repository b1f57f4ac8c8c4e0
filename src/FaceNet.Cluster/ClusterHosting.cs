using System.Net;
using FaceNet.Cluster.Membership;
using FaceNet.Cluster.Shards;
using FaceNet.Gallery.Protection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace FaceNet.Cluster;

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
