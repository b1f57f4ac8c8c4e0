using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace FaceNet.Service.Keys;

/// <summary>
/// The keys in force: the keys file, read again when it changes (checked at most once a second), so a
/// key added or revoked with <c>facenet keys</c> takes effect without a restart. Each key has its own
/// token bucket: its rate per second, bursts of up to two seconds' worth. Failed authentications (no key,
/// an unknown or a revoked one) are limited per client address, and counted for the audit trail in
/// aggregate (<see cref="Denials"/>) instead of a row each.
/// </summary>
internal sealed class KeyCheck : IDisposable
{
    // what was read, and when the file was last looked at: replaced whole, once the keys are read
    private sealed record Loaded(ApiKeys Keys, (DateTime, long) Stamp, long CheckedAt);

    private readonly string _path;
    private readonly ServiceMetrics _metrics;
    private readonly Dictionary<string, (double Rate, TokenBucketRateLimiter Limiter)> _limiters = new(StringComparer.Ordinal);
    private readonly PartitionedRateLimiter<string> _failures;
    private readonly object _reload = new();
    private volatile Loaded _loaded;

    public KeyCheck(string path, ServiceMetrics metrics, int failuresPerMinute)
    {
        _path = path;
        _metrics = metrics;
        _loaded = new Loaded(ApiKeys.Load(path), Stamp(), Environment.TickCount64);
        // per client address, failures only: a burst of a minute's worth, then one every 60/N seconds
        _failures = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = failuresPerMinute,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(60.0 / failuresPerMinute),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>Refused requests counted per client, claimed key and minute, for the audit trail.</summary>
    public Denials Denials { get; } = new();

    public int Count => Current.Active.Count();

    private ApiKeys Current
    {
        get
        {
            var loaded = _loaded;
            if (Environment.TickCount64 - loaded.CheckedAt < 1000) return loaded.Keys;
            // every caller past the second waits here for the one reading the file: none sees the old keys as new
            lock (_reload)
            {
                loaded = _loaded;
                if (Environment.TickCount64 - loaded.CheckedAt < 1000) return loaded.Keys;
                var (keys, stamp) = (loaded.Keys, Stamp());
                if (stamp != loaded.Stamp)
                {
                    try { keys = ApiKeys.Load(_path); }
                    catch (KeysException) { stamp = loaded.Stamp; } // half-edited by hand: keep the keys in force until it reads again
                }
                _loaded = new Loaded(keys, stamp, Environment.TickCount64); // published whole, after the keys are read
                return keys;
            }
        }
    }

    private (DateTime, long) Stamp()
    {
        var f = new FileInfo(_path);
        return f.Exists ? (f.LastWriteTimeUtc, f.Length) : (DateTime.MinValue, -1);
    }

    private const string KeyItem = "facenet.key", ApiKeyItem = "facenet.apikey", TenantItem = "facenet.tenant", CountedItem = "facenet.counted";

    /// <summary>The client's address: the connection's (after the forwarded-headers middleware, when a trusted proxy is named).</summary>
    public static string ClientOf(HttpContext http) => http.Connection.RemoteIpAddress is { } a ? Normal(a).ToString() : "(unknown)";

    private static IPAddress Normal(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>Whether the request was refused before any work and counted in <see cref="Denials"/> (no row of its own).</summary>
    public static bool Counted(HttpContext http) => http.Items.ContainsKey(CountedItem);

    /// <summary>Whether the request's key (checked already) has the scope.</summary>
    public static bool Allows(HttpContext http, Scope scope) => http.Items[ApiKeyItem] is ApiKey key && key.Allows(scope);

    /// <summary>Null when the request may go on; else the problem to answer with (401, 403 or 429).</summary>
    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Check(HttpContext http, Scope scope)
    {
        var presented = http.Request.Headers["X-API-Key"].ToString();
        if (presented.Length == 0) return Denied(http, "(no key)", Tenants.Default, "no API key: send one in the X-API-Key header (create one with 'facenet keys add')");
        var key = Current.Find(presented);
        if (key is null) return Denied(http, "unknown key", Tenants.Default, "unknown API key");
        if (key.Revoked is not null) return Denied(http, $"key {key.KeyId} (revoked)", key.TenantName, "revoked API key");
        http.Items[KeyItem] = key.Name;
        http.Items[ApiKeyItem] = key;
        http.Items[TenantItem] = key.TenantName;
        TokenBucketRateLimiter limiter;
        lock (_limiters)
        {
            if (!_limiters.TryGetValue(key.KeyId, out var l) || l.Rate != key.RatePerSecond)
            {
                l.Limiter?.Dispose();
                _limiters[key.KeyId] = l = (key.RatePerSecond, NewLimiter(key.RatePerSecond));
            }
            limiter = l.Limiter;
        }
        // the rate counts every request of the key, allowed or not
        using var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
            return key.Allows(scope) ? null : Problems.Forbidden($"the key '{key.Name}' has no '{scope.ToString().ToLowerInvariant()}' scope");
        _metrics.Rejected("rate");
        Denials.Count(ClientOf(http), key.Name, 429, key.TenantName);
        http.Items[CountedItem] = true;
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Seconds(retry);
        return Problems.Status(429, "Too many requests", $"the key '{key.Name}' is over its rate of {key.RatePerSecond:0.##} requests per second");
    }

    // a failed authentication: 401 while the client's address has failures left this minute, 429 beyond; counted either way
    private Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Denied(HttpContext http, string claimed, string tenant, string why)
    {
        var client = ClientOf(http);
        http.Items[CountedItem] = true;
        using var lease = _failures.AttemptAcquire(client);
        if (lease.IsAcquired)
        {
            Denials.Count(client, claimed, 401, tenant);
            return Problems.Unauthorized(why);
        }
        _metrics.Rejected("auth_failures");
        Denials.Count(client, claimed, 429, tenant);
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Seconds(retry);
        return Problems.Status(429, "Too many failed authentications",
            $"too many requests with a missing, unknown or revoked key from {client}; try again in {Seconds(retry)} s");
    }

    private static string Seconds(TimeSpan t) => Math.Max(1, (int)Math.Ceiling(t.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static TokenBucketRateLimiter NewLimiter(double rate)
    {
        // whole tokens every period: the smallest period that gives at least one token
        var period = rate >= 1 ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(1 / rate);
        int perPeriod = Math.Max(1, (int)Math.Round(rate * period.TotalSeconds));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, (int)Math.Ceiling(rate * 2)),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public void Dispose()
    {
        lock (_limiters)
            foreach (var (_, l) in _limiters.Values) l.Dispose();
        _failures.Dispose();
    }
}
