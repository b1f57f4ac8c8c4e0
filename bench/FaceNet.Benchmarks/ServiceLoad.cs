using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace FaceNet.Benchmarks;

/// <summary>One level of load: how many clients, what they got, and where the server's time went.</summary>
public sealed record LoadLevel(int Clients, int Requests, int Failed, int Busy, double Seconds, double RequestsPerSecond, double FacesPerSecond,
    double P50Ms, double P99Ms, IReadOnlyDictionary<string, double> StageMs, double MeanBatch);

/// <summary>
/// A load generator for the HTTP service: closed-loop clients (each sends its next request when the last
/// one is answered), a bounded number of requests and a time cap per level, against a loopback address
/// only (this is not a tool for loading someone else's server). Where the time goes comes from the
/// server's own Prometheus histograms, read before and after each level.
/// </summary>
public static class ServiceLoad
{
    public static async Task<IReadOnlyList<LoadLevel>> RunAsync(string baseUrl, string key, IReadOnlyList<string> photos, IReadOnlyList<int> clientCounts,
        int requestsPerLevel, TimeSpan capPerLevel, string endpoint = "embed", Action<LoadLevel>? progress = null)
    {
        var uri = new Uri(baseUrl);
        if (!uri.IsLoopback) throw new ArgumentException($"{baseUrl}: the load tool drives a service on this machine only (127.0.0.1, ::1 or localhost)");
        if (endpoint is not ("embed" or "detect" or "identify" or "verify")) throw new ArgumentException($"unknown endpoint '{endpoint}' (embed, detect, identify, verify)");
        var bodies = photos.Select(File.ReadAllBytes).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = uri, Timeout = TimeSpan.FromMinutes(2) };
        // warm-up: the first requests pay for JIT and ONNX Runtime's first runs
        for (int i = 0; i < Math.Min(3, bodies.Length * 2); i++) await Send(http, key, endpoint, bodies[i % bodies.Length]);
        var levels = new List<LoadLevel>();
        foreach (var clients in clientCounts)
        {
            var before = await Metrics(http);
            var latencies = new List<double>();
            int next = 0, failed = 0, busy = 0, faces = 0;
            var sw = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, clients).Select(async _ =>
            {
                while (sw.Elapsed < capPerLevel)
                {
                    int n = Interlocked.Increment(ref next) - 1;
                    if (n >= requestsPerLevel) return;
                    var t = Stopwatch.GetTimestamp();
                    var (status, found) = await Send(http, key, endpoint, bodies[n % bodies.Length]);
                    double ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                    lock (latencies)
                    {
                        if (status == 200) { latencies.Add(ms); faces += found; }
                        else if (status == 503) busy++;
                        else failed++;
                    }
                }
            }).ToList();
            await Task.WhenAll(workers);
            double seconds = sw.Elapsed.TotalSeconds;
            var after = await Metrics(http);
            double Delta(string name) => after.GetValueOrDefault(name) - before.GetValueOrDefault(name);
            var stages = new Dictionary<string, double>();
            foreach (var stage in new[] { "decode", "detect", "align", "queue", "embed" })
            {
                double count = Delta($"facenet_stage_seconds_count{{stage=\"{stage}\"}}");
                if (count > 0) stages[stage] = Delta($"facenet_stage_seconds_sum{{stage=\"{stage}\"}}") / count * 1000;
            }
            double batches = Delta("facenet_embed_batch_faces_count");
            var level = new LoadLevel(clients, latencies.Count, failed, busy, seconds, latencies.Count / seconds, faces / seconds,
                Timing.Quantile(latencies, 0.5), Timing.Quantile(latencies, 0.99), stages, batches > 0 ? Delta("facenet_embed_batch_faces_sum") / batches : 0);
            levels.Add(level);
            progress?.Invoke(level);
        }
        return levels;
    }

    private static async Task<(int Status, int Faces)> Send(HttpClient http, string key, string endpoint, byte[] photo)
    {
        using var form = new MultipartFormDataContent();
        var path = endpoint == "verify" ? "/v1/verify" : "/v1/" + endpoint;
        foreach (var field in endpoint == "verify" ? new[] { "image1", "image2" } : ["image"])
        {
            var part = new ByteArrayContent(photo);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(part, field, field + ".jpg");
        }
        using var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = form };
        req.Headers.Add("X-API-Key", key);
        try
        {
            using var res = await http.SendAsync(req);
            if (res.StatusCode != HttpStatusCode.OK) return ((int)res.StatusCode, 0);
            using var doc = JsonDocument.Parse(await res.Content.ReadAsStreamAsync());
            return (200, endpoint == "verify" ? 2 : doc.RootElement.GetProperty("faces").GetArrayLength());
        }
        catch (HttpRequestException) { return (0, 0); }
    }

    // Prometheus text: "name{labels} value" → value
    private static async Task<Dictionary<string, double>> Metrics(HttpClient http)
    {
        var text = await http.GetStringAsync("/metrics");
        var values = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) values[line[..space]] = v;
        }
        return values;
    }
}
