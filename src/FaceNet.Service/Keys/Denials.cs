using FaceNet.Gallery;

namespace FaceNet.Service.Keys;

/// <summary>
/// Requests refused before any work — no key, an unknown or revoked key, a key over its rate — counted per
/// minute, client address, claimed key and tenant, so that the audit trail gets one row for each instead of
/// one per request: a client that sends bad keys as fast as it can adds a row a minute, not thousands. The
/// count is bounded: beyond <see cref="MaxRows"/> kinds in a minute the rest are lumped together.
/// </summary>
internal sealed class Denials
{
    public const int MaxRows = 10_000;
    private const string OtherClients = "(other addresses)";

    private readonly record struct Row(long Minute, string Client, string Claimed, string Tenant);

    private readonly Dictionary<Row, (int Unauthorized, int Throttled)> _counts = [];

    /// <summary>Counts one refusal (401 or 429) of <paramref name="client"/> claiming <paramref name="claimed"/>.</summary>
    public void Count(string client, string claimed, int status, string tenant = GalleryTenants.Default, DateTime? now = null)
    {
        long minute = MinuteOf(now ?? DateTime.UtcNow);
        lock (_counts)
        {
            var row = new Row(minute, client, claimed, tenant);
            if (!_counts.ContainsKey(row) && _counts.Count >= MaxRows) row = new Row(minute, OtherClients, "(any)", tenant);
            var (u, t) = _counts.GetValueOrDefault(row);
            _counts[row] = status == 429 ? (u, t + 1) : (u + 1, t);
        }
    }

    /// <summary>
    /// The rows of the minutes that are over (all of them with <paramref name="all"/>), taken out: one audit event each,
    /// with its tenant, stamped with the minute it counts.
    /// </summary>
    public IReadOnlyList<(string Tenant, AuditEvent Event)> Take(bool all = false, DateTime? now = null)
    {
        long current = MinuteOf(now ?? DateTime.UtcNow);
        lock (_counts)
        {
            var done = _counts.Where(c => all || c.Key.Minute < current).ToList();
            foreach (var c in done) _counts.Remove(c.Key);
            return [.. done.OrderBy(c => c.Key.Minute).Select(c => (c.Key.Tenant, new AuditEvent(c.Key.Claimed, AuditOperations.Authenticate,
                Outcome(c.Value.Unauthorized, c.Value.Throttled))
            {
                Client = c.Key.Client,
                Count = c.Value.Unauthorized + c.Value.Throttled,
                At = DateTime.UnixEpoch.AddMinutes(c.Key.Minute),
            }))];
        }
    }

    private static string Outcome(int unauthorized, int throttled)
        => "denied: " + string.Join(", ", new[] { unauthorized > 0 ? $"401 ×{unauthorized}" : null, throttled > 0 ? $"429 ×{throttled}" : null }.OfType<string>());

    private static long MinuteOf(DateTime t) => (long)(t.ToUniversalTime() - DateTime.UnixEpoch).TotalMinutes;
}
