using FaceNet.Service;
using FaceNet.Service.Keys;

namespace FaceNet.Cli;

// The HTTP service and its API keys: serve, keys.
public sealed partial class FaceNetCli
{
    private static Option<string> KeysFileOption() => new("--keys") { Description = "The API keys file", DefaultValueFactory = _ => "keys.json" };

    private Command ServeCommand()
    {
        var o = new ServeOptions(this);
        var silo = new SiloOptions();
        var cmd = new Command("serve", "Run the HTTP service: verify, embed, detect, enrol, identify; API keys, limits, metrics, OpenAPI and a web page");
        o.AddTo(cmd);
        silo.AddTo(cmd);
        cmd.SetAction(r => Guard(() =>
        {
            var options = o.Read(r, silo);
            if (options.Urls.Split(';').Any(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !IsLoopback(u)))
                stderr.WriteLine("note: plain HTTP beyond this machine: photos, faces and API keys cross the network in the clear (--https-cert, --https-key)");
            var host = StartService(options, new StderrLogs(stderr));
            var (g, c) = (host.Gallery, host.Sharded);
            stdout.WriteLine($"listening on {host.Address}  (model {host.Recognizer.Model.Info.Name}, threshold {F(host.Recognizer.Threshold)}; "
                + (c is not null ? $"cluster {options.Cluster!.ClusterId}: silo {options.Cluster.AdvertisedAddress}:{options.Cluster.SiloPort}, "
                    + $"gallery {c.Store.Location} in {c.Shards} shards"
                : g is null ? "no gallery" : $"gallery {g.Store.Location}: {g.SubjectCount} subject(s), {g.FaceCount} face(s)") + ")");
            stdout.WriteLine($"web page {host.Address}/   API reference {host.Address}/docs   metrics {host.Address}/metrics");
            if (!ApiKeys.Load(options.KeysFile).Active.Any())
                stderr.WriteLine($"note: {options.KeysFile} holds no API keys: every /v1 request gets 401 until one is added ('facenet keys add NAME "
                    + $"--scopes verify,identify,enroll,admin')");
            stdout.Flush();
            try { host.WaitForShutdownAsync().GetAwaiter().GetResult(); }
            finally { host.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            stdout.WriteLine("stopped");
            return Ok;
        }));
        return cmd;
    }

    /// <summary>The options of <c>serve</c>, read into the service's <see cref="ServiceOptions"/>.</summary>
    private sealed class ServeOptions(FaceNetCli cli)
    {
        private readonly Option<string?> _urls = Options.Text("--urls", "Where to listen (port 0: a free one; default http://127.0.0.1:5080, with "
            + "--https-cert https://127.0.0.1:5443)");
        private readonly Option<string?> _httpsCert = Options.Text("--https-cert", "PEM certificate (chain): serve HTTPS (TLS 1.2/1.3) with HSTS");
        private readonly Option<string?> _httpsKey = Options.Text("--https-key", "The certificate's PEM private key");
        private readonly Option<string[]> _retention = new("--retention")
        {
            Description = "Erase subjects neither enrolled nor matched for this long (365d, 12h), swept at start and hourly; TENANT=PERIOD for one tenant's",
            AllowMultipleArgumentsPerToken = true,
        };
        private readonly Option<string?> _gallery = Options.Text("--gallery", "The gallery: an SQLite file, or a PostgreSQL connection string "
            + "(\"Host=…;Database=…\") that replicas share", "-g");
        private readonly Option<string> _keys = KeysFileOption();
        private readonly Option<string?> _model = ModelOption();
        private readonly Option<DetectorKind?> _detector = DetectorOption();
        private readonly Option<int> _threads = ThreadsOption();
        private readonly Option<double?> _threshold = ThresholdOption();
        private readonly Option<int> _maxBody = Options.Int("--max-body-mb", "Largest request body in MB (413 beyond)", 10, 1, 1024);
        private readonly Option<int> _workers = Options.Int("--workers", "Requests decoding and detecting at once (default: half the cores; the others "
            + "embed)", new ServiceOptions().Workers, 1, 256);
        private readonly Option<int> _queue = Options.Int("--queue", "Requests in progress at most (503 with Retry-After beyond)", 64, 1, 100_000);
        private readonly Option<double> _batchWait = Options.Real("--batch-wait-ms", "How long a part-filled embedding batch waits for other requests' "
            + "faces", 2, 0, 1000);
        private readonly Option<double> _timeout = Options.Real("--timeout", "A request's time limit in seconds (503 beyond)", 30, 0, 3600, minOpen: true);
        private readonly Option<bool> _cluster = Options.Flag("--cluster", "Be a silo of a cluster over the PostgreSQL gallery as well as a front end: the "
            + "gallery is cut into shards over the silos");
        private readonly Option<string> _auditRetention = Options.Setting("--audit-retention", "Keep audit trail entries this long (400d, 12h; 'forever' "
            + "keeps them all); older ones are deleted by the sweep, which records it", "400d");
        private readonly Option<int> _maxFaces = Options.Int("--max-faces", "Faces of one photo embedded at most: the largest are kept, the answer says "
            + "how many were dropped", 64, 1, 10_000);
        private readonly Option<int> _decodeBudget = Options.Int("--decode-budget-mp", "Decoded megapixels of all requests' photos in memory at once "
            + "(about 4 MB each); beyond it requests wait", 100, 1, 100_000);
        private readonly Option<int> _failedAuth = Options.Int("--failed-auth-per-minute", "Failed authentications allowed per client address and minute "
            + "(429 beyond; a valid key still works)", 30, 1, 1_000_000);
        private readonly Option<string[]> _trustedProxy = new("--trusted-proxy")
        {
            Description = "A proxy's address whose X-Forwarded-For names the client (audit trail, failed-authentication limit)",
            AllowMultipleArgumentsPerToken = true,
        };

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { _urls, _httpsCert, _httpsKey, _gallery, cli._masterKeyFile, _retention, _auditRetention, _keys, _model, _detector,
                _threads, _threshold, _maxBody, _maxFaces, _decodeBudget, _workers, _queue, _batchWait, _timeout, _failedAuth, _trustedProxy, _cluster })
                cmd.Options.Add(o);
        }

        public ServiceOptions Read(ParseResult r, SiloOptions silo)
        {
            var gallery = r.GetValue(_gallery);
            var key = cli.GalleryKey(r);
            bool tls = r.GetValue(_httpsCert) is not null || r.GetValue(_httpsKey) is not null;
            var retention = r.GetValue(_retention) ?? [];
            return new ServiceOptions
            {
                Urls = r.GetValue(_urls) ?? (tls ? "https://127.0.0.1:5443" : "http://127.0.0.1:5080"),
                HttpsCertificateFile = r.GetValue(_httpsCert), HttpsKeyFile = r.GetValue(_httpsKey),
                Retention = retention.Where(t => !t.Contains('=')).Select(t => (TimeSpan?)ParsePeriod("--retention", t)).LastOrDefault(),
                TenantRetention = retention.Where(t => t.Contains('=')).ToDictionary(t => t[..t.IndexOf('=')], t => ParsePeriod("--retention", t[(t.IndexOf('=') + 1)..])),
                Gallery = gallery, MasterKey = key, KeysFile = r.GetValue(_keys)!,
                Recognizer = new FaceRecognizerOptions
                {
                    Model = gallery is not null && !GalleryStores.IsPostgres(gallery) ? cli.GalleryModelName(gallery, r.GetValue(_model), key) : r.GetValue(_model),
                    Detector = r.GetValue(_detector), Threads = r.GetValue(_threads), Threshold = r.GetValue(_threshold), ImportWeights = path => WeightImporter.Import(path).Onnx,
                },
                MaxBodyBytes = r.GetValue(_maxBody) * 1024L * 1024, Workers = r.GetValue(_workers), QueueLimit = r.GetValue(_queue),
                BatchWait = TimeSpan.FromMilliseconds(r.GetValue(_batchWait)), RequestTimeout = TimeSpan.FromSeconds(r.GetValue(_timeout)),
                Cluster = r.GetValue(_cluster) ? silo.Read(r, gallery, "--cluster") : null,
                AuditRetention = r.GetValue(_auditRetention) is "forever" ? null : ParsePeriod("--audit-retention", r.GetValue(_auditRetention)!),
                MaxFaces = r.GetValue(_maxFaces), MaxPixelsInFlight = r.GetValue(_decodeBudget) * 1_000_000L, FailedAuthPerMinute = r.GetValue(_failedAuth),
                TrustedProxies = [.. (r.GetValue(_trustedProxy) ?? []).Select(a => System.Net.IPAddress.TryParse(a, out var ip) ? ip
                    : throw new UsageException($"--trusted-proxy: '{a}' is not an IP address"))],
            };
        }
    }

    /// <summary>Where a silo listens and which cluster it joins: the options of serve --cluster and of cluster silo.</summary>
    private sealed class SiloOptions
    {
        private readonly Option<int> _siloPort = new Option<int>("--silo-port") { Description = "Cluster: silo-to-silo port",
            DefaultValueFactory = _ => 11111 }.Within(1, 65535);
        private readonly Option<int> _gatewayPort = new Option<int>("--gateway-port") { Description = "Cluster: Orleans client port",
            DefaultValueFactory = _ => 30000 }.Within(1, 65535);
        private readonly Option<string?> _address = new("--silo-address")
        {
            Description = "Cluster: the address other silos reach this one at (default 127.0.0.1: a cluster on one machine)",
        };
        private readonly Option<string> _clusterId = new("--cluster-id") { Description = "Cluster: its name (silos of one name over one database form it)",
            DefaultValueFactory = _ => "facenet" };
        private readonly Option<int?> _shards = new Option<int?>("--shards")
        {
            Description = "Cluster: shards of a new gallery (default 64; fixed when the cluster first starts)",
        }.Within(1, 4096);

        private readonly Option<int?> _graphFrom = new Option<int?>("--graph-from")
        {
            Description = "Cluster: a shard of this many faces or more holds int8 codes in an HNSW graph, its candidates re-ranked from the store "
                + $"(default {new FaceIndexOptions().ApproximateFrom:N0}; below it, the float vectors and an exact scan)",
        }.Within(1, int.MaxValue);

        private readonly Option<int?> _graphCandidates = new Option<int?>("--graph-candidates")
        {
            Description = $"Cluster: neighbours a compact shard's graph search collects (default {new FaceIndexOptions().MinCandidates}): more finds more "
                + $"of the nearest faces of large shards, and costs time",
        }.Within(1, 100_000);

        private readonly Option<string?> _graphDir = new("--graph-dir")
        {
            Description = $"Cluster: where this silo keeps its shards' graphs (default {FaceNet.Cluster.Shards.ShardGraphs.DefaultDirectory}; a copy of "
                + $"each is in the database too)",
        };

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { _siloPort, _gatewayPort, _address, _clusterId, _shards, _graphFrom, _graphCandidates, _graphDir }) cmd.Options.Add(o);
        }

        public FaceNet.Cluster.FaceClusterOptions Read(ParseResult r, string? gallery, string what)
        {
            if (gallery is null || !GalleryStores.IsPostgres(gallery))
                throw new UsageException($"{what}: a cluster keeps its gallery in PostgreSQL: give -g \"Host=…;Database=…\"");
            var address = System.Net.IPAddress.Loopback;
            if (r.GetValue(_address) is { } a && !System.Net.IPAddress.TryParse(a, out address))
                throw new UsageException($"--silo-address: '{a}' is not an IP address");
            return new FaceNet.Cluster.FaceClusterOptions
            {
                ConnectionString = gallery, SiloPort = r.GetValue(_siloPort), GatewayPort = r.GetValue(_gatewayPort), AdvertisedAddress = address!,
                ClusterId = r.GetValue(_clusterId)!, Shards = r.GetValue(_shards),
                Index = r.GetValue(_graphFrom) is null && r.GetValue(_graphCandidates) is null ? null : new FaceIndexOptions
                {
                    ApproximateFrom = r.GetValue(_graphFrom) ?? new FaceIndexOptions().ApproximateFrom,
                    MinCandidates = r.GetValue(_graphCandidates) ?? new FaceIndexOptions().MinCandidates,
                },
                GraphDirectory = r.GetValue(_graphDir) ?? FaceNet.Cluster.Shards.ShardGraphs.DefaultDirectory,
            };
        }
    }

    private Command ClusterSiloCommand()
    {
        var gallery = new Option<string>("--gallery", "-g") { Description = "The cluster's PostgreSQL gallery (\"Host=…;Database=…\")", Required = true };
        var where = new SiloOptions();
        var cmd = new Command("silo", "A silo that holds shards of the gallery and serves no HTTP (front ends: serve --cluster); runs until Ctrl+C or SIGTERM")
            { gallery, _masterKeyFile };
        where.AddTo(cmd);
        cmd.SetAction(r => Guard(() =>
        {
            var options = where.Read(r, r.GetValue(gallery), "cluster silo") with { Key = GalleryKey(r) };
            FaceNet.Cluster.ClusterSilo silo;
            try { silo = FaceNet.Cluster.ClusterSilo.StartAsync(options, new StderrLogs(stderr)).GetAwaiter().GetResult(); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                throw new UsageException($"--silo-port {options.SiloPort} / --gateway-port {options.GatewayPort}: {e.Message}");
            }
            stdout.WriteLine($"silo {options.AdvertisedAddress}:{options.SiloPort} ready (cluster {options.ClusterId}, gateway port {options.GatewayPort}, "
                + $"gallery {Gallery.PostgresGalleryStore.Redact(options.ConnectionString)} in {silo.Shards} shards)");
            stdout.Flush();
            try { silo.WaitForShutdownAsync().GetAwaiter().GetResult(); }
            finally { silo.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            stdout.WriteLine("stopped");
            return Ok;
        }));
        return cmd;
    }

    private Command ClusterStatusCommand()
    {
        var url = new Option<string>("--url") { Description = "A front end of the cluster", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var key = new Option<string?>("--key") { Description = "An admin key of the default tenant (default: $FACENET_API_KEY)" };
        var json = JsonOption();
        var cmd = new Command("status", "The silos of a 'facenet serve --cluster' cluster: status, shards, subjects, faces, memory; where each shard is")
            { url, key, json };
        cmd.SetAction(r => Guard(() =>
        {
            var address = r.GetValue(url)!.TrimEnd('/');
            var apiKey = r.GetValue(key) ?? Environment.GetEnvironmentVariable("FACENET_API_KEY")
                ?? throw new UsageException("--key: an admin key is needed (or set FACENET_API_KEY)");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var req = new HttpRequestMessage(HttpMethod.Get, address + "/v1/cluster");
            req.Headers.Add("X-API-Key", apiKey);
            HttpResponseMessage res;
            try { res = http.SendAsync(req).GetAwaiter().GetResult(); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
            {
                stderr.WriteLine($"error: {address}: cannot reach the service ({e.Message})");
                return InputError;
            }
            using (res)
            {
                var body = res.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                if (!res.IsSuccessStatusCode)
                {
                    string detail = body;
                    try { detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString() ?? body; }
                    catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { }
                    stderr.WriteLine($"error: {address}/v1/cluster: {(int)res.StatusCode} {detail}");
                    return InputError;
                }
                if (r.GetValue(json))
                {
                    stdout.WriteLine(body);
                    return Ok;
                }
                var state = JsonSerializer.Deserialize<ClusterResponse>(body, FaceNetApi.Json)!;
                stdout.WriteLine($"{state.Silos.Count} silo(s), {state.ShardCount} shards, {state.Subjects} subject(s), {state.Faces} face(s)");
                foreach (var s in state.Silos)
                    stdout.WriteLine($"  {s.Address,-22} {s.Status,-8} {s.Shards.Count,3} shards  {s.Subjects,9} subjects  {s.Faces,10} faces  "
                        + $"{s.MemoryBytes / (1024.0 * 1024):0} MB");
                return Ok;
            }
        }));
        return cmd;
    }

    private static bool IsLoopback(string url)
        => Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0",
            StringComparison.Ordinal), UriKind.Absolute, out var u)
           && (u.IsLoopback || u.Host == "localhost");

    private static FaceServiceHost StartService(ServiceOptions options, Microsoft.Extensions.Logging.ILoggerProvider logs)
    {
        try { return FaceServiceHost.StartAsync(options, logs).GetAwaiter().GetResult(); }
        catch (ServiceAddressException e) { throw new UsageException($"--urls {options.Urls}: {e.Reason}"); }
    }

    private Command KeysCommand() => new("keys", "API keys of the service: add (printed once), list, revoke") { KeysAddCommand(), KeysListCommand(), KeysRevokeCommand() };

    private Command KeysAddCommand()
    {
        var keys = KeysFileOption();
        var name = new Argument<string>("name") { Description = "Who or what uses the key" };
        var scopes = Options.Required("--scopes", "Comma-separated: verify, identify, enroll, admin (admin may do everything)");
        var rate = Options.Real("--rate", "Requests per second allowed to this key (bursts of two seconds' worth)", ApiKeys.DefaultRate, 0, 100_000, minOpen: true);
        var tenant = Options.Setting("--tenant", "The tenant whose gallery the key acts on (default: default)", GalleryTenants.Default);
        var add = new Command("add", "Create a key; it is printed once, as the last line; the file keeps only its hash") { name, scopes, rate, tenant, keys };
        add.SetAction(r => Guard(() =>
        {
            var (path, who, to) = (r.GetValue(keys)!, r.GetValue(name)!, r.GetValue(tenant)!);
            var list = r.GetValue(scopes)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => ApiKeys.ParseScope(path, s)).ToList();
            var key = ApiKeys.Add(path, who, list, r.GetValue(rate), to);
            stderr.WriteLine($"key '{who}' added to {path} (tenant {to}; {string.Join(", ", list.Select(s => s.ToString().ToLowerInvariant()))}; "
                + $"{r.GetValue(rate):0.##} requests/s). It is shown this once:");
            // the keys file cannot see the service's galleries: say what the key needs before its first request meets a 404
            if (to != GalleryTenants.Default)
                stderr.WriteLine($"note: the tenant '{to}' must exist on the service: 'facenet tenants add {to} -g LOCATION' "
                    + $"(the service's -g), or POST /v1/tenants/{to} with an admin key of the default tenant; until then its requests get 404");
            stdout.WriteLine(key);
            return Ok;
        }));
        return add;
    }

    private Command KeysListCommand()
    {
        var keys = KeysFileOption(); var json = JsonOption();
        var list = new Command("list", "The keys: names, scopes, rates (never the keys)") { keys, json };
        list.SetAction(r => Guard(() =>
        {
            var all = ApiKeys.Load(r.GetValue(keys)!).All;
            static string[] Scopes(ApiKey k) => [.. k.Scopes.Select(s => s.ToString().ToLowerInvariant())];
            if (r.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(all.Select(k => new Dictionary<string, object>
                {
                    ["name"] = k.Name, ["id"] = k.KeyId, ["scopes"] = Scopes(k), ["rate_per_second"] = k.RatePerSecond,
                    ["created"] = k.Created.ToString("O"), ["tenant"] = k.TenantName, ["revoked"] = k.Revoked?.ToString("O")!,
                }), Json));
                return Ok;
            }
            int revoked = all.Count(k => k.Revoked is not null);
            stdout.WriteLine($"{all.Count - revoked} key(s) in force in {r.GetValue(keys)}" + (revoked > 0 ? $", {revoked} revoked" : ""));
            foreach (var k in all)
                stdout.WriteLine($"  {k.Name}  id {k.KeyId}  tenant {k.TenantName}  {string.Join(",", Scopes(k))}  {k.RatePerSecond:0.##}/s  since "
                    + $"{k.Created:yyyy-MM-dd}"
                    + (k.Revoked is { } when ? $"  REVOKED {when:yyyy-MM-dd}" : ""));
            return Ok;
        }));
        return list;
    }

    private Command KeysRevokeCommand()
    {
        var keys = KeysFileOption();
        var name = new Argument<string>("name") { Description = "The key's name" };
        var revoke = new Command("revoke", "Revoke a key: a running service refuses it within a second; the file keeps it, marked revoked, so the audit "
            + "trail names its later uses by id") { name, keys };
        revoke.SetAction(r => Guard(() =>
        {
            if (!ApiKeys.Revoke(r.GetValue(keys)!, r.GetValue(name)!)) { stderr.WriteLine($"error: {r.GetValue(keys)}: no key named "
                + $"'{r.GetValue(name)}'"); return InputError; }
            stdout.WriteLine($"revoked {r.GetValue(name)}");
            return Ok;
        }));
        return revoke;
    }
}
