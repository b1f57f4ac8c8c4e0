namespace FaceNet.Cli;

// facenet bench network | images | service | gallery | tracks: speed and memory, each kind its own command.
public sealed partial class FaceNetCli
{
    private Command BenchCommand() => new("bench",
        "Speed and memory: the network alone, photos end to end, the HTTP service, gallery search and upkeep, video tracks, the liveness check")
    {
        BenchNetworkCommand(), BenchImagesCommand(), BenchServiceCommand(), BenchGalleryCommand(), BenchTracksCommand(), BenchClusterCommand(),
        BenchLivenessCommand(),
    };

    private Command BenchClusterCommand()
    {
        var gallery = Options.Required("--gallery", "A PostgreSQL database for the benchmark's gallery (filled with synthetic faces up to --faces; not one "
            + "with real people)", "-g");
        var faces = Options.Int("--faces", "Faces in the gallery (one per subject)", 1_000_000, 1, 100_000_000);
        var dimensions = Options.Int("--dimensions", "Values per vector (the default model's are 256)", 256, 2, 4096);
        var silos = new Option<int[]>("--silos") { Description = "Silo counts to run (default 1 2 4)", AllowMultipleArgumentsPerToken = true }.Within(1, 64);
        var queries = Options.Int("--queries", "Identifications timed per silo count", 300, 1, 1_000_000);
        var clients = Options.Int("--clients", "Concurrent identifying callers", 4, 1, 1024);
        var writers = Options.Int("--writers", "Concurrent enrolling callers", 4, 1, 1024);
        var seconds = Options.Real("--enrol-seconds", "How long enrolment is timed per silo count", 10, 0, 3600, minOpen: true);
        var json = JsonOption();
        var lfw = Options.Required("--lfw", "Real people's photos, a folder per person (LFW): embedded by the default model (cached), they shape the "
            + "synthetic faces "
            + "(centres and within-person spread) and are planted as mated searches and strangers");
        var shards = Options.Int("--shards", "Shards of a new gallery", 16, 1, 4096);
        var graphFrom = new Option<int?>("--graph-from") { Description = "Silos: a shard of this many faces or more is compact (default the silo's)" }.Within(1, int.MaxValue);
        var graphDir = Options.Text("--graph-dir", "Silos: where shards' graphs are kept (default the silo's)");
        var graphCandidates = new Option<int?>("--graph-candidates") { Description = "Silos: neighbours a graph search collects (default the silo's)" }.Within(1, 100_000);
        var failover = Options.Flag("--failover", "At the largest silo count: kill -9 one silo and time until the answers are whole");
        var cmd = new Command("cluster", "A gallery in shards over 1, 2, 4 silo processes: load time, memory per face, identify p50/p99 and throughput, "
            + "recall against exact float search, enrolment throughput, failover")
            { gallery, faces, dimensions, silos, queries, clients, writers, seconds, json, lfw, shards, graphFrom, graphCandidates, graphDir, failover };
        cmd.SetAction(r => Guard(() =>
        {
            var db = r.GetValue(gallery)!;
            if (!GalleryStores.IsPostgres(db)) throw new UsageException("bench cluster: -g takes a PostgreSQL connection string (\"Host=…;Database=…\")");
            var (real, threshold) = RealFacesOf(r.GetValue(lfw)!, r.GetValue(dimensions));
            var planted = FaceNet.Benchmarks.ClusterBenchmark.Prepare(db, real, threshold, r.GetValue(faces), r.GetValue(dimensions), r.GetValue(shards), stderr.WriteLine);
            string[] siloExtra = [.. r.GetValue(graphFrom) is { } gf ? new[] { "--graph-from", gf.ToString(CultureInfo.InvariantCulture) } : [],
                .. r.GetValue(graphCandidates) is { } gc ? new[] { "--graph-candidates", gc.ToString(CultureInfo.InvariantCulture) } : [],
                .. r.GetValue(graphDir) is { } gd ? new[] { "--graph-dir", gd } : []];
            var counts = r.GetValue(silos) is { Length: > 0 } all ? all : [1, 2, 4];
            foreach (var n in counts)
            {
                var run = FaceNet.Benchmarks.ClusterBenchmark.RunAsync(db, n, r.GetValue(queries), r.GetValue(clients), r.GetValue(writers),
                    TimeSpan.FromSeconds(r.GetValue(seconds)), (cluster, port, gateway) => SelfCommand(["cluster", "silo", "-g", db, "--cluster-id", cluster,
                        "--silo-port", port.ToString(CultureInfo.InvariantCulture), "--gateway-port", gateway.ToString(CultureInfo.InvariantCulture), .. siloExtra]),
                    stderr.WriteLine, planted, r.GetValue(failover) && n == counts.Max() && n > 1).GetAwaiter().GetResult();
                ReportClusterRun(run, r.GetValue(json));
            }
            return Ok;
        }));
        return cmd;
    }

    /// <summary>Real people's faces, embedded by the default model (or read from the cache), and the model's threshold.</summary>
    private (FaceNet.Benchmarks.RealFaces Faces, double Threshold) RealFacesOf(string folder, int dimensions)
    {
        using var pipeline = Pipeline(new FaceRecognizerOptions());
        using var cache = new EmbeddingCache(EmbeddingCache.DefaultDirectory, EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name, false));
        var set = FaceNet.Training.HeadTraining.Load(pipeline, folder, stderr.WriteLine, cache);
        if (set.Faces.Count == 0 || set.Faces[0].X.Length != dimensions)
            throw new UsageException($"--lfw: the default model's embeddings are not of {dimensions} values (or no face was found)");
        return (new FaceNet.Benchmarks.RealFaces(set.People, set.Faces), pipeline.Model.Info.Threshold);
    }

    private void ReportClusterRun(FaceNet.Benchmarks.ClusterFigures run, bool json)
    {
        if (json) stdout.WriteLine(JsonSerializer.Serialize(run, ApiJson.Options));
        else
        {
            stdout.WriteLine($"{run.Silos} silo(s), {run.Faces} faces in {run.Shards} shards: started and loaded in {run.LoadSeconds:F1} s; identify p50 "
                + $"{run.IdentifyP50Ms:F1} ms, "
                + $"p99 {run.IdentifyP99Ms:F1} ms, {run.IdentifyPerSecond:F1}/s ({run.Clients} callers); enrol {run.EnrolmentsPerSecond:F0}/s "
                    + $"({run.Writers} writers); "
                + $"erase one {run.EraseMs:F0} ms; {run.BytesPerFace:F0} B resident a face; mated {run.MatedEqual}/{run.MatedSearches} as exact search "
                    + $"(first answer {run.MatedFirstEqual}), "
                + $"strangers named wrongly {run.StrangersNamedWrongly}/{run.StrangerSearches}; database {run.DatabaseMb:F0} MB"
                + (run.FailoverSeconds > 0 ? $"; failover {run.FailoverSeconds:F1} s" : ""));
            foreach (var s in run.PerSilo) stdout.WriteLine($"  {s.Address,-22} {s.Shards,3} shards {s.Faces,10} faces {s.MemoryMb,8:F0} MB");
        }
        stdout.Flush();
    }

    /// <summary>This program again, with other arguments (the facenet executable, or dotnet and this assembly).</summary>
    private static System.Diagnostics.ProcessStartInfo SelfCommand(params string[] args)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var psi = new System.Diagnostics.ProcessStartInfo(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(FaceNetCli).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static Option<string[]> Int8Option(string what) => new("--int8")
    {
        Description = $"Also time {what} with the model quantized to int8 here, as facenet quantize does, calibrated on the faces in these photos",
        AllowMultipleArgumentsPerToken = true,
    };

    private static Argument<string[]> BenchPhotos(string what) => Options.Images("photos", what, ArgumentArity.OneOrMore);

    private Command BenchNetworkCommand()
    {
        var model = Options.Text("--model", "Model to time (default: the seed's Inception-ResNet-V1 with random weights)", "-m");
        var batch = new Option<int[]>("--batch") { Description = "Batch sizes (default: 1 and 32)", AllowMultipleArgumentsPerToken = true }.Within(1, 4096);
        var seconds = Options.Real("--seconds", "Time spent on each batch size", 5, 0, 3600);
        var int8 = Int8Option("the network"); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var cmd = new Command("network", "Embedding faces/s per batch size and peak memory, the network alone") { model, batch,
            seconds, int8, detector, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var batches = r.GetValue(batch) is { Length: > 0 } b ? b : [1, 32];
            if (batches.Any(x => x < 1)) throw new UsageException("--batch: batch sizes must be positive");
            var modelArg = r.GetValue(model);
            var options = new EmbedderOptions { Threads = r.GetValue(threads), MaxBatch = batches.Max(), ImportWeights = p => WeightImporter.Import(p).Onnx };
            var seed = modelArg is null ? WeightImporter.Import(InceptionResNetV1.RandomWeights(WeightFormat.Keras)).Onnx : null;
            using var embedder = seed is not null
                ? FaceEmbedder.FromOnnx(seed, "inception-resnet-v1 (seed, random weights)", options)
                : FaceEmbedder.Load(BundledModels.ResolveEmbedder(modelArg), options);
            var timed = new List<FaceEmbedder> { embedder };
            if (r.GetValue(int8) is { Length: > 0 } calibration) timed.Add(Int8Copy(embedder, seed, calibration, r.GetValue(detector), options));
            try
            {
                foreach (var net in timed)
                foreach (var n in batches)
                {
                    CollectBeforeTiming();
                    var res = NetworkBenchmark.Run(net, n, r.GetValue(seconds));
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["faces_per_second"] = Math.Round(res.FacesPerSecond, 2), ["batch"] = n, ["model"] = net.ModelPath, ["int8"] = net != embedder,
                            ["ms_per_batch"] = Math.Round(res.MsPerBatch, 2), ["peak_memory_mb"] = Math.Round(res.PeakMemoryMb, 1),
                            ["threads"] = options.Threads, ["cores"] = Environment.ProcessorCount,
                        }, Json));
                    else
                        stdout.WriteLine($"batch {n,3}: {res.FacesPerSecond,8:F2} faces/s  ({res.MsPerBatch:F1} ms per batch, {res.Runs} runs)  peak "
                            + $"memory {res.PeakMemoryMb:F0} MB  [{net.ModelPath}, {Environment.ProcessorCount} cores]");
                    if (n == batches[^1]) net.Dispose(); // its session's threads must not compete with the next network's
                }
            }
            finally { foreach (var net in timed) net.Dispose(); }
            return Ok;
        }));
        return cmd;
    }

    /// <summary>The same network quantized on this machine from faces in the given photos.</summary>
    private FaceEmbedder Int8Copy(FaceEmbedder embedder, byte[]? onnx, string[] calibration, DetectorKind? detector, EmbedderOptions options)
    {
        using var detect = Detectors.Create(detector);
        using var recognizer = FaceRecognizer.From(detect, FaceModel.FromEmbedder(embedder, ownsEmbedder: false));
        var crops = FaceNet.Import.Onnx.ModelQuantizer.CalibrationCrops(recognizer, Spread(ImageFiles(calibration, "--int8"), 384), 256, stderr.WriteLine);
        var (int8, summary) = FaceNet.Import.Onnx.ModelQuantizer.QuantizeNetwork(embedder, crops[0], onnx);
        stderr.WriteLine($"int8: {summary}");
        return FaceEmbedder.FromOnnx(int8, embedder.ModelPath + " (int8)", options);
    }

    private Command BenchImagesCommand()
    {
        var model = Options.Text("--model", "Model (default: the bundled default)", "-m");
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption(); var int8 = Int8Option("the whole pipeline");
        var parallel = Options.Int("--parallel", "Photos in flight at once (default: one per core)", 0, 0, 256);
        var fullDecode = Options.Flag("--full-decode", "Decode every photo in full (as before decoding to size), to compare");
        var photos = BenchPhotos("Photos (files or folders): decode → detect → align → embed");
        var cmd = new Command("images", "Photos/s end to end, with the time of each stage") { model, detector, parallel, fullDecode,
            int8, threads, json, photos };
        cmd.SetAction(r => Guard(() =>
            BenchPipeline(r.GetValue(photos)!, r.GetValue(model), r.GetValue(detector), r.GetValue(threads), r.GetValue(parallel),
                r.GetValue(fullDecode), r.GetValue(json), r.GetValue(int8))));
        return cmd;
    }

    private Command BenchServiceCommand()
    {
        var model = Options.Text("--model", "Model of the service started here (default: the bundled default)", "-m");
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var parallel = Options.Int("--parallel", "Workers of the service started here (default: half the cores)", 0, 0, 256);
        var url = Options.Text("--url", "A running service on this machine (with --key) instead of one started here on a free port");
        var key = Options.Text("--key", "With --url: an API key with the scope the endpoint needs");
        var clients = new Option<int[]>("--clients") { Description = "Concurrent clients per level (default 1 4 16)", AllowMultipleArgumentsPerToken = true }.Within(1, 1024);
        var requests = Options.Int("--requests", "Requests per level (each level also stops after 2 minutes)", 96, 1, 1_000_000);
        var endpoint = Options.Setting("--endpoint", "embed, detect, identify or verify", "embed", "embed", "detect", "identify", "verify");
        var photos = BenchPhotos("Photos (files or folders) the clients send");
        var cmd = new Command("service", "The HTTP service under load from concurrent clients") { model, detector, parallel, url, key,
            clients, requests, endpoint, threads, json, photos };
        cmd.SetAction(r => Guard(() =>
            BenchService(ImageFiles(r.GetValue(photos)!, "bench service"), r.GetValue(url), r.GetValue(key),
                r.GetValue(clients) is { Length: > 0 } cs ? cs : [1, 4, 16],
                r.GetValue(requests), r.GetValue(endpoint)!, r.GetValue(model), r.GetValue(detector), r.GetValue(threads), r.GetValue(parallel), r.GetValue(json))));
        return cmd;
    }

    private Command BenchGalleryCommand()
    {
        var json = JsonOption();
        var maintenance = Options.Flag("--maintenance", "Time enrolling, removing and renaming one subject in an SQLite gallery of --faces faces instead");
        var folder = Options.Text("--folder", "With --maintenance: where the gallery file is made (default: the temp folder)");
        var encrypted = Options.Flag("--encrypted", "With --maintenance: the gallery encrypted at rest (under a throw-away master key), to measure what it "
            + "costs");
        var dimensions = Options.Int("--dimensions", "Values per vector (the default model's are 256)", 128, 2, 4096);
        var faces = Options.Int("--faces", "Vectors in the gallery", 1_000_000, 1, 100_000_000);
        var queries = Options.Int("--queries", "Queries timed (with --maintenance: operations of each kind)", 200, 1, 1_000_000);
        var candidates = new Option<int[]>("--candidates") { Description = "Neighbours asked of the HNSW graph per search (several values: each is "
            + "timed)", AllowMultipleArgumentsPerToken = true }.Within(1, 100_000);
        var connectivity = Options.Int("--connectivity", "HNSW graph degree", new FaceIndexOptions().Connectivity, 2, 512);
        var expansionAdd = Options.Int("--expansion-add", "HNSW build candidate list", new FaceIndexOptions().ExpansionAdd, 1, 100_000);
        var cmd = new Command("gallery", "Search latency, exact and HNSW, over synthetic unit vectors; or the cost of changing a large gallery")
            { faces, queries, candidates, connectivity, expansionAdd, maintenance, folder, encrypted, dimensions, json };
        cmd.SetAction(r => Guard(() => r.GetValue(maintenance)
            ? BenchMaintenance(r.GetValue(faces), r.GetValue(queries), r.GetValue(folder) ?? Path.GetTempPath(),
                r.GetValue(dimensions), r.GetValue(encrypted), r.GetValue(json))
            : BenchGallery(r.GetValue(faces), r.GetValue(queries), r.GetValue(candidates) is { Length: > 0 } cs ? cs : [new FaceIndexOptions().MinCandidates],
                new FaceIndexOptions { Connectivity = r.GetValue(connectivity), ExpansionAdd = r.GetValue(expansionAdd) }, r.GetValue(dimensions), r.GetValue(json))));
        return cmd;
    }

    private Command BenchTracksCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var people = Options.Int("--people", "People used at most", 1000, 2, 1_000_000);
        var folder = new Argument<string>("folder") { Description = "A folder of people (one sub-folder of 4+ photos each, e.g. LFW's images)" };
        var cmd = new Command("tracks", "How video tracks are named and clustered, on tracks made of people's photos") { model,
            detector, people, threads, json, folder };
        cmd.SetAction(r => Guard(() =>
        {
            var trackRoot = r.GetValue(folder)!;
            if (!Directory.Exists(trackRoot)) throw new UsageException($"bench tracks: {trackRoot}: folder not found");
            using var recognizer = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads) });
            var res = TrackBenchmark.Run(recognizer, trackRoot, r.GetValue(people));
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["tracks"] = res.Tracks, ["enrolled"] = res.Enrolled, ["identity_right"] = res.Identity.ToDictionary(p => p.Key,
                        p => Math.Round(p.Value, 4)),
                    ["cluster_tracks"] = res.ClusterTracks, ["people"] = res.People, ["clusters"] = res.Clusters,
                    ["same_together"] = Math.Round(res.TogetherSame, 4), ["different_apart"] = Math.Round(res.ApartDifferent,
                        4), ["model"] = recognizer.Model.Info.Name,
                }, Json));
            else
            {
                stdout.WriteLine($"{res.Tracks} tracks ({res.Enrolled} of enrolled people, the others strangers; 4 photos each, 2 of them at a quarter "
                    + $"size), model {recognizer.Model.Info.Name}");
                stdout.WriteLine("  identity right: " + string.Join(", ", res.Identity.Select(p => $"{p.Key} {p.Value:P1}")));
                stdout.WriteLine($"  clustering {res.ClusterTracks} half-tracks of {res.People} people: {res.Clusters} clusters, same person together "
                    + $"{res.TogetherSame:P1}, different people apart {res.ApartDifferent:P2}");
            }
            return Ok;
        }));
        return cmd;
    }

    private int BenchService(IReadOnlyList<string> photos, string? url, string? key, int[] clientCounts, int requests, string endpoint,
        string? model, DetectorKind? detector, int threads, int workers, bool json)
    {
        if (url is not null && key is null) throw new UsageException("--url needs --key");
        FaceNet.Service.FaceServiceHost? host = null;
        var dir = url is null ? Directory.CreateTempSubdirectory("facenet-bench-").FullName : null;
        try
        {
            if (url is null)
            {
                var keys = Path.Combine(dir!, "keys.json");
                key = FaceNet.Service.Keys.ApiKeys.Add(keys, "bench", [FaceNet.Service.Keys.Scope.Admin], 1_000_000);
                host = FaceNet.Service.FaceServiceHost.StartAsync(new FaceNet.Service.ServiceOptions
                {
                    Urls = "http://127.0.0.1:0", KeysFile = keys, Gallery = Path.Combine(dir!, "bench.db"), QueueLimit = 1024,
                    Workers = workers > 0 ? workers : new FaceNet.Service.ServiceOptions().Workers,
                    Recognizer = new FaceRecognizerOptions { Model = model, Detector = detector, Threads = threads },
                }).GetAwaiter().GetResult();
                url = host.Address;
            }
            if (!json) stdout.WriteLine($"{endpoint}: {photos.Count} photo(s), up to {requests} requests per level, {Environment.ProcessorCount} cores, "
                + $"service {url}{(host is null ? "" : " (started here)")}");
            ServiceLoad.RunAsync(url, key!, photos, clientCounts, requests, TimeSpan.FromMinutes(2), endpoint, level =>
            {
                if (json)
                    stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["endpoint"] = endpoint, ["clients"] = level.Clients, ["requests"] = level.Requests, ["failed"] = level.Failed, ["busy"] = level.Busy,
                        ["requests_per_second"] = Math.Round(level.RequestsPerSecond, 2), ["faces_per_second"] = Math.Round(level.FacesPerSecond, 2),
                        ["p50_ms"] = Math.Round(level.P50Ms, 1), ["p99_ms"] = Math.Round(level.P99Ms, 1), ["mean_batch"] = Math.Round(level.MeanBatch, 2),
                        ["stage_ms"] = level.StageMs.ToDictionary(p => p.Key, p => Math.Round(p.Value, 2)),
                    }, Json));
                else
                    stdout.WriteLine($"{level.Clients,3} client(s): {level.RequestsPerSecond,6:F1} requests/s, {level.FacesPerSecond,6:F1} faces/s, p50 "
                        + $"{level.P50Ms,6:F0} ms, p99 {level.P99Ms,6:F0} ms"
                        + (level.Failed + level.Busy > 0 ? $", {level.Busy} busy, {level.Failed} failed" : "")
                        + $"  | per request: {string.Join(", ", level.StageMs.Where(p => p.Key is "decode" or "detect" or "align").Select(p => $"{p.Key} {p.Value:F1}"))} ms;"
                        + $" per face: queue {level.StageMs.GetValueOrDefault("queue"):F1} ms; per batch: embed "
                            + $"{level.StageMs.GetValueOrDefault("embed"):F1} ms, {level.MeanBatch:F1} faces");
            }).GetAwaiter().GetResult();
            return Ok;
        }
        finally
        {
            host?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (dir is not null) Directory.Delete(dir, true);
        }
    }

    private int BenchGallery(int n, int queryCount, int[] candidateCounts, FaceIndexOptions options, int dimensions, bool json)
    {
        var res = GalleryBenchmark.Search(n, queryCount, candidateCounts, options, dimensions);
        if (!json)
        {
            stdout.WriteLine($"{n} faces × {res.Dimensions}-d (10 per person), {queryCount} queries (new faces of enrolled people), "
                + $"{Environment.ProcessorCount} cores");
            stdout.WriteLine($"  exact top-1: median {res.ExactMedianMs:F2} ms, p95 {res.ExactP95Ms:F2} ms (load {res.LoadSeconds:F1} s)");
            stdout.WriteLine($"  HNSW (M {options.Connectivity}, ef_add {options.ExpansionAdd}): build {res.BuildSeconds:F1} s; {res.GraphBytesPerFace:F0} B a "
                + $"face in memory (USearch's count), {res.SavedGraphBytesPerFace:F0} B a face saved");
        }
        foreach (var g in res.Graph)
        {
            if (json)
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["faces"] = n, ["dimensions"] = res.Dimensions, ["queries"] = queryCount, ["load_seconds"] = Math.Round(res.LoadSeconds, 2),
                    ["exact_top1_ms_median"] = Math.Round(res.ExactMedianMs, 3), ["exact_top1_ms_p95"] = Math.Round(res.ExactP95Ms, 3),
                    ["hnsw_build_seconds"] = Math.Round(res.BuildSeconds,
                        2), ["hnsw_connectivity"] = options.Connectivity, ["hnsw_expansion_add"] = options.ExpansionAdd, ["candidates"] = g.Candidates,
                    ["hnsw_top1_ms_median"] = Math.Round(g.MedianMs, 4), ["hnsw_top1_ms_p95"] = Math.Round(g.P95Ms, 4),
                    ["hnsw_recall_at_1"] = Math.Round(g.RecallAt1, 4), ["hnsw_person_recall_at_1"] = Math.Round(g.PersonRecallAt1, 4),
                    ["peak_memory_mb"] = Math.Round(res.PeakMemoryMb, 1), ["cores"] = Environment.ProcessorCount,
                    ["graph_bytes_per_face"] = Math.Round(res.GraphBytesPerFace), ["graph_saved_bytes_per_face"] = Math.Round(res.SavedGraphBytesPerFace),
                }, Json));
            else
                stdout.WriteLine($"    {g.Candidates,4} candidates: top-1 median {g.MedianMs:F3} ms, p95 {g.P95Ms:F3} ms, recall@1 {g.RecallAt1:F4} (same "
                    + $"person as the exact answer: {g.PersonRecallAt1:F4}); peak memory {res.PeakMemoryMb:F0} MB");
        }
        return Ok;
    }

    private int BenchMaintenance(int n, int operations, string folder, int dimensions, bool encrypted, bool json)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"--folder: {folder}: folder not found");
        var res = GalleryBenchmark.Maintenance(n, folder, operations, dimensions, key: encrypted ? MasterKey.Create() : null);
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["faces"] = n, ["operations"] = operations, ["fill_seconds"] = Math.Round(res.FillSeconds,
                    1), ["open_seconds"] = Math.Round(res.OpenSeconds, 1),
                ["enroll_ms_median"] = Math.Round(res.EnrollMedianMs, 2), ["enroll_ms_p95"] = Math.Round(res.EnrollP95Ms, 2),
                ["remove_ms_median"] = Math.Round(res.RemoveMedianMs, 2), ["remove_ms_p95"] = Math.Round(res.RemoveP95Ms, 2),
                ["rename_ms_median"] = Math.Round(res.RenameMedianMs, 2), ["rename_ms_p95"] = Math.Round(res.RenameP95Ms, 2),
                ["identify_ms_median"] = Math.Round(res.IdentifyMedianMs, 2), ["encrypted"] = res.Encrypted, ["dimensions"] = dimensions,
                ["peak_memory_mb"] = Math.Round(res.PeakMemoryMb, 1), ["cores"] = Environment.ProcessorCount,
            }, Json));
        else
        {
            stdout.WriteLine($"{n} faces of {dimensions} values in {(res.Encrypted ? "an encrypted" : "a plain")} SQLite gallery (bulk fill "
                + $"{res.FillSeconds:F1} s, open {res.OpenSeconds:F1} s), "
                + $"{operations} operations of each kind, {Environment.ProcessorCount} cores");
            stdout.WriteLine($"  identify (exact):   median {res.IdentifyMedianMs:F2} ms");
            stdout.WriteLine($"  enrol one face:     median {res.EnrollMedianMs:F2} ms, p95 {res.EnrollP95Ms:F2} ms (committed, synchronous=FULL)");
            stdout.WriteLine($"  remove a subject:   median {res.RemoveMedianMs:F2} ms, p95 {res.RemoveP95Ms:F2} ms (erased: secure_delete, WAL truncated)");
            stdout.WriteLine($"  rename a subject:   median {res.RenameMedianMs:F2} ms, p95 {res.RenameP95Ms:F2} ms");
            stdout.WriteLine($"  peak memory {res.PeakMemoryMb:F0} MB");
        }
        return Ok;
    }

    private int BenchPipeline(string[] inputs, string? model, DetectorKind? detector, int threads, int parallel, bool fullDecode, bool json,
        string[]? int8Calibration)
    {
        var files = ImageFiles(inputs, "bench images");
        if (parallel < 1) parallel = Environment.ProcessorCount;
        // With several photos in flight, each ONNX Runtime call gets one thread unless told otherwise.
        int ortThreads = threads > 0 ? threads : parallel > 1 ? 1 : 0;
        double detail = fullDecode ? 0 : FaceRecognizer.DefaultAlignmentDetail;
        bool failed = false;
        using (var pipeline = Pipeline(new FaceRecognizerOptions { Model = model, Detector = detector, Threads = ortThreads, AlignmentDetail = detail }))
        {
            failed = Report(pipeline);
            if (int8Calibration is not { Length: > 0 }) return failed ? InputError : Ok;
            // the same pipeline with the model quantized here (as facenet quantize does), for a side-by-side figure
            var dir = Directory.CreateTempSubdirectory("facenet-int8-").FullName;
            try
            {
                var quantized = FaceNet.Import.Onnx.ModelQuantizer.Quantize(pipeline, Spread(ImageFiles(int8Calibration, "--int8"), 384),
                    Path.Combine(dir, pipeline.Model.IsFused ? "int8.json" : "int8.onnx"),
                    progress: line => stderr.WriteLine(line));
                using var int8 = Pipeline(new FaceRecognizerOptions { Model = quantized.Output, Detector = detector,
                    Threads = ortThreads, AlignmentDetail = detail });
                CollectBeforeTiming();
                failed |= Report(int8);
            }
            finally { Directory.Delete(dir, true); }
        }
        return failed ? InputError : Ok;

        bool Report(FaceRecognizer pipeline)
        {
            var res = PipelineBenchmark.Run(pipeline, files, parallel);
            foreach (var e in res.Unreadable) ReportInput(e);
            if (json)
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["images"] = res.Images, ["images_per_second"] = Math.Round(res.ImagesPerSecond,
                        2), ["parallel"] = parallel, ["mean_megapixels"] = Math.Round(res.MeanMegapixels, 3),
                    ["decode_ms"] = Math.Round(res.DecodeMs, 2), ["detect_ms"] = Math.Round(res.DetectMs, 2),
                    ["align_embed_ms"] = Math.Round(res.AlignEmbedMs, 2), ["misses"] = res.Misses, ["unreadable"] = res.Unreadable.Count,
                    ["detector"] = pipeline.Detector.Name, ["model"] = pipeline.Model.Info.Name, ["cores"] = Environment.ProcessorCount,
                }, Json));
            else
                stdout.WriteLine($"{res.Images} images ({res.MeanMegapixels:F2} MP mean), {parallel} in flight: {res.ImagesPerSecond:F1} images/s end to "
                    + $"end; per image decode {res.DecodeMs:F1} ms, " +
                    $"detect ({pipeline.Detector.Name}) {res.DetectMs:F1} ms, align+embed ({pipeline.Model.Info.Name}) {res.AlignEmbedMs:F1} ms; "
                        + $"{res.Misses} without a face");
            return res.Unreadable.Count > 0;
        }
    }

    /// <summary>
    /// The quantizer's calibration leaves hundreds of MB of garbage: collected now, not by a background GC
    /// thread competing with the timed network on a 2-core machine.
    /// </summary>
    private static void CollectBeforeTiming()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
