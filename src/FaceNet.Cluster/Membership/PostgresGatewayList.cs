using Orleans.Messaging;
using Orleans.Runtime;

namespace FaceNet.Cluster.Membership;

/// <summary>Where an Orleans client finds the cluster: the gateways of the active silos in the membership table.</summary>
internal sealed class PostgresGatewayList(string connectionString, string clusterId) : IGatewayListProvider
{
    private readonly PostgresMembershipTable _table = new(connectionString, clusterId);

    public TimeSpan MaxStaleness => TimeSpan.FromSeconds(5);

    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    public async Task<IList<Uri>> GetGateways()
    {
        var all = await _table.ReadAll().ConfigureAwait(false);
        return [.. all.Members.Select(m => m.Item1).Where(e => e.Status == SiloStatus.Active && e.ProxyPort > 0)
            .Select(e => SiloAddress.New(e.SiloAddress.Endpoint.Address, e.ProxyPort, e.SiloAddress.Generation).ToGatewayUri())];
    }
}
