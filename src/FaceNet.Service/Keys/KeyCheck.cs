using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace FaceNet.Service.Keys;

/// <summary>
/// The keys in force: the keys file, read again when it changes (checked at most once a second), so a
/// key added or revoked with <c>facenet keys</c> takes effect without a restart. Each key has its own
/// token bucket: its rate per second, bursts of up to two seconds' worth.
/// </summary>
internal sealed class KeyCheck : IDisposable
{
    private readonly string _path;
    private readonly ServiceMetrics _metrics;
    private readonly ConcurrentDictionary<string, (double Rate, TokenBucketRateLimiter Limiter)> _limiters = new();
    private readonly object _reload = new();
    private ApiKeys _keys;
    private DateTime _stamp;
    private long _checkedAt;

    public KeyCheck(string path, ServiceMetrics metrics)
    {
        _path = path;
        _metrics = metrics;
        _keys = ApiKeys.Load(path);
        _stamp = Stamp();
        _checkedAt = Environment.TickCount64;
    }

    public int Count => Current.All.Count;

    private ApiKeys Current
    {
        get
        {
            if (Environment.TickCount64 - Interlocked.Read(ref _checkedAt) < 1000) return _keys;
            lock (_reload)
            {
                if (Environment.TickCount64 - _checkedAt < 1000) return _keys;
                _checkedAt = Environment.TickCount64;
                var stamp = Stamp();
                if (stamp == _stamp) return _keys;
                try
                {
                    _keys = ApiKeys.Load(_path);
                    _stamp = stamp;
                }
                catch (KeysException) { } // half-edited by hand: keep the keys in force until it reads again
                return _keys;
            }
        }
    }

    private DateTime Stamp() => File.Exists(_path) ? File.GetLastWriteTimeUtc(_path) : DateTime.MinValue;

    /// <summary>Null when the request may go on; else the problem to answer with (401, 403 or 429).</summary>
    public IResult? Check(HttpContext http, Scope scope)
    {
        var presented = http.Request.Headers["X-API-Key"].ToString();
        if (presented.Length == 0) return Problems.Unauthorized("no API key: send one in the X-API-Key header (create one with 'facenet keys add')");
        var key = Current.Find(presented);
        if (key is null) return Problems.Unauthorized("unknown or revoked API key");
        http.Items["facenet.key"] = key.Name;
        http.Items["facenet.tenant"] = key.TenantName;
        var (_, limiter) = _limiters.AddOrUpdate(key.Name, _ => (key.RatePerSecond, NewLimiter(key.RatePerSecond)),
            (_, old) => old.Rate == key.RatePerSecond ? old : (key.RatePerSecond, NewLimiter(key.RatePerSecond)));
        // the rate counts every request of the key, allowed or not
        using var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
            return key.Allows(scope) ? null : Problems.Forbidden($"the key '{key.Name}' has no '{scope.ToString().ToLowerInvariant()}' scope");
        _metrics.Rejected("rate");
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Status(429, "Too many requests", $"the key '{key.Name}' is over its rate of {key.RatePerSecond:0.##} requests per second");
    }

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
        foreach (var (_, l) in _limiters.Values) l.Dispose();
    }
}
