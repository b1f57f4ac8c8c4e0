using FaceNet.Cluster.Membership;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;

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

    /// <summary>Hosts shards of the gallery in that database, cut into <paramref name="shards"/> (Orleans places them over the silos).</summary>
    public static ISiloBuilder AddGalleryShards(this ISiloBuilder silo, string connectionString, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        silo.Services.AddSingleton(new Shards.ShardSettings(connectionString, shards));
        return silo;
    }
}
