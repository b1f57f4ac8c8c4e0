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
        var gallery = new Option<string>("--gallery", "-g")
        {
            Description = "A PostgreSQL database for the benchmark's gallery (filled with synthetic faces up to --faces; not one with real people)",
            Required = true,
        };
        var faces = new Option<int>("--faces") { Description = "Faces in the gallery (one per subject)", DefaultValueFactory = _ => 1_000_000 }.Within(1, 100_000_000);
        var dimensions = new Option<int>("--dimensions") { Description = "Values per vector (the default model's are 256)",
            DefaultValueFactory = _ => 256 }.Within(2, 4096);
        var silos = new Option<int[]>("--silos") { Description = "Silo counts to run (default 1 2 4)", AllowMultipleArgumentsPerToken = true }.Within(1, 64);
        var queries = new Option<int>("--queries") { Description = "Identifications timed per silo count", DefaultValueFactory = _ => 300 }.Within(1, 1_000_000);
        var clients = new Option<int>("--clients") { Description = "Concurrent identifying callers", DefaultValueFactory = _ => 4 }.Within(1, 1024);
        var writers = new Option<int>("--writers") { Description = "Concurrent enrolling callers", DefaultValueFactory = _ => 4 }.Within(1, 1024);
        var seconds = Options.Real("--enrol-seconds", "How long enrolment is timed per silo count", 10, 0, 3600, minOpen: true);
        var json = JsonOption();
        var lfw = new Option<string>("--lfw")
        {
            Description = "Real people's photos, a folder per person (LFW): embedded by the default model (cached), they shape the synthetic faces "
                + "(centres and within-person spread) and are planted as mated searches and strangers",
            Required = true,
        };
        var shards = new Option<int>("--shards") { Description = "Shards of a new gallery", DefaultValueFactory = _ => 16 }.Within(1, 4096);
        var graphFrom = new Option<int?>("--graph-from") { Description = "Silos: a shard of this many faces or more is compact (default the silo's)" }.Within(1, int.MaxValue);
        var graphDir = new Option<string?>("--graph-dir") { Description = "Silos: where shards' graphs are kept (default the silo's)" };
        var failover = new Option<bool>("--failover") { Description = "At the largest silo count: kill -9 one silo and time until the answers are whole" };
        var cmd = new Command("cluster", "A gallery in shards over 1, 2, 4 silo processes: load time, memory per face, identify p50/p99 and throughput, "
            + "recall against exact float search, enrolment throughput, failover")
            { gallery, faces, dimensions, silos, queries, clients, writers, seconds, json, lfw, shards, graphFrom, graphDir, failover };
        cmd.SetAction(r => Guard(() =>
        {
            var db = r.GetValue(gallery)!;
            if (!GalleryStores.IsPostgres(db)) throw new UsageException("bench cluster: -g takes a PostgreSQL connection string (\"Host=…;Database=…\")");
            FaceNet.Benchmarks.RealFaces real;
            double modelThreshold;
            using (var pipeline = Pipeline(new FaceRecognizerOptions()))
            {
                using var cache = new FaceNet.Evaluation.EmbeddingCache(FaceNet.Evaluation.EmbeddingCache.DefaultDirectory,
                    FaceNet.Evaluation.EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name, false));
                var set = FaceNet.Training.HeadTraining.Load(pipeline, r.GetValue(lfw)!, m => stderr.WriteLine(m), cache);
                real = new FaceNet.Benchmarks.RealFaces(set.People, set.Faces);
                modelThreshold = pipeline.Model.Info.Threshold;
            }
            if (real.Faces.Count == 0 || real.Faces[0].Vector.Length != r.GetValue(dimensions))
                throw new UsageException($"--lfw: the default model's embeddings are not of {r.GetValue(dimensions)} values (or no face was found)");
            var shape = FaceNet.Benchmarks.FaceLikeFaces.Fit(real);
            stderr.WriteLine($"face-like synthetic faces: same person {shape.SyntheticWithin:F3} apart (LFW {shape.RealWithin:F3}), two people "
                + $"{shape.SyntheticBetween:F3} (LFW {shape.RealBetween:F3}); threshold {modelThreshold:F3}");
            FaceNet.Cluster.Shards.ShardLayout.Fix(db, r.GetValue(shards));
            double fill = FaceNet.Benchmarks.ClusterBenchmark.Fill(db, r.GetValue(faces), shape, real, r.GetValue(dimensions), m => stderr.WriteLine(m));
            if (fill > 0) stderr.WriteLine($"gallery filled in {fill:F0} s");
            var planted = FaceNet.Benchmarks.ClusterBenchmark.Exact(db, real, 500, 300, modelThreshold, m => stderr.WriteLine(m));
            string[] siloExtra = [.. r.GetValue(graphFrom) is { } gf ? new[] { "--graph-from", gf.ToString(CultureInfo.InvariantCulture) } : [],
                .. r.GetValue(graphDir) is { } gd ? new[] { "--graph-dir", gd } : []];
            var runs = new List<FaceNet.Benchmarks.ClusterFigures>();
            foreach (var n in r.GetValue(silos) is { Length: > 0 } ns ? ns : [1, 2, 4])
            {
                var counts = r.GetValue(silos) is { Length: > 0 } all ? all : [1, 2, 4];
                var run = FaceNet.Benchmarks.ClusterBenchmark.RunAsync(db, n, r.GetValue(queries), r.GetValue(clients), r.GetValue(writers),
                    TimeSpan.FromSeconds(r.GetValue(seconds)), (cluster, port, gateway) => SelfCommand(["cluster", "silo", "-g", db, "--cluster-id", cluster,
                        "--silo-port", port.ToString(CultureInfo.InvariantCulture), "--gateway-port", gateway.ToString(CultureInfo.InvariantCulture), .. siloExtra]),
                    m => stderr.WriteLine(m), planted, r.GetValue(failover) && n == counts.Max() && n > 1).GetAwaiter().GetResult();
                runs.Add(run);
                if (r.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(run, ApiJson.Options));
                else
                {
                    stdout.WriteLine($"{run.Silos} silo(s), {run.Faces} faces in {run.Shards} shards: started and loaded in {run.LoadSeconds:F1} s; identify p50 {run.IdentifyP50Ms:F1} ms, "
                        + $"p99 {run.IdentifyP99Ms:F1} ms, {run.IdentifyPerSecond:F1}/s ({run.Clients} callers); enrol {run.EnrolmentsPerSecond:F0}/s ({run.Writers} writers); "
                        + $"erase one {run.EraseMs:F0} ms; {run.BytesPerFace:F0} B resident a face; mated {run.MatedEqual}/{run.MatedSearches} as exact search (first answer {run.MatedFirstEqual}), "
                        + $"strangers named wrongly {run.StrangersNamedWrongly}/{run.StrangerSearches}; database {run.DatabaseMb:F0} MB"
                        + (run.FailoverSeconds > 0 ? $"; failover {run.FailoverSeconds:F1} s" : ""));
                    foreach (var s in run.PerSilo) stdout.WriteLine($"  {s.Address,-22} {s.Shards,3} shards {s.Faces,10} faces {s.MemoryMb,8:F0} MB");
                }
                stdout.Flush();
            }
            return Ok;
        }));
        return cmd;
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
        var model = new Option<string?>("--model", "-m") { Description = "Model to time (default: the seed's Inception-ResNet-V1 with random weights)" };
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
            if (r.GetValue(int8) is { Length: > 0 } calibration)
            {
                // the same network, quantized on this machine from faces in the given photos
                using var detect = Detectors.Create(r.GetValue(detector));
                using var recognizer = FaceRecognizer.From(detect, FaceModel.FromEmbedder(embedder, ownsEmbedder: false));
                var crops = FaceNet.Import.Onnx.ModelQuantizer.CalibrationCrops(recognizer, Spread(ImageFiles(calibration, "--int8"), 384),
                    256, line => stderr.WriteLine(line));
                var (onnx, summary) = FaceNet.Import.Onnx.ModelQuantizer.QuantizeNetwork(embedder, crops[0], seed);
                stderr.WriteLine($"int8: {summary}");
                timed.Add(FaceEmbedder.FromOnnx(onnx, embedder.ModelPath + " (int8)", options));
            }
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
                        stdout.WriteLine($"batch {n,3}: {res.FacesPerSecond,8:F2} faces/s  ({res.MsPerBatch:F1} ms per batch, {res.Runs} runs)  peak memory {res.PeakMemoryMb:F0} MB  [{net.ModelPath}, {Environment.ProcessorCount} cores]");
                    if (n == batches[^1]) net.Dispose(); // its session's threads must not compete with the next network's
                }
            }
            finally { foreach (var net in timed) net.Dispose(); }
            return Ok;
        }));
        return cmd;
    }

    private Command BenchImagesCommand()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model (default: the bundled default)" };
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption(); var int8 = Int8Option("the whole pipeline");
        var parallel = new Option<int>("--parallel")
        {
            Description = "Photos in flight at once (default: one per core)",
            DefaultValueFactory = _ => 0,
        }.Within(0, 256);
        var fullDecode = new Option<bool>("--full-decode") { Description = "Decode every photo in full (as before decoding to size), to compare" };
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
        var model = new Option<string?>("--model", "-m") { Description = "Model of the service started here (default: the bundled default)" };
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var parallel = new Option<int>("--parallel")
        {
            Description = "Workers of the service started here (default: half the cores)",
            DefaultValueFactory = _ => 0,
        }.Within(0, 256);
        var url = new Option<string?>("--url") { Description = "A running service on this machine (with --key) instead of one started here on a free port" };
        var key = new Option<string?>("--key") { Description = "With --url: an API key with the scope the endpoint needs" };
        var clients = new Option<int[]>("--clients")
        {
            Description = "Concurrent clients per level (default 1 4 16)",
            AllowMultipleArgumentsPerToken = true,
        }.Within(1, 1024);
        var requests = new Option<int>("--requests")
        {
            Description = "Requests per level (each level also stops after 2 minutes)",
            DefaultValueFactory = _ => 96,
        }.Within(1, 1_000_000);
        var endpoint = new Option<string>("--endpoint") { Description = "embed, detect, identify or verify", DefaultValueFactory = _ => "embed" };
        endpoint.AcceptOnlyFromAmong("embed", "detect", "identify", "verify");
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
        var maintenance = new Option<bool>("--maintenance")
        {
            Description = "Time enrolling, removing and renaming one subject in an SQLite gallery of --faces faces instead",
        };
        var folder = new Option<string?>("--folder") { Description = "With --maintenance: where the gallery file is made (default: the temp folder)" };
        var encrypted = new Option<bool>("--encrypted") { Description = "With --maintenance: the gallery encrypted at rest (under a throw-away master key), to measure what it costs" };
        var dimensions = new Option<int>("--dimensions") { Description = "Values per vector (the default model's are 256)",
            DefaultValueFactory = _ => 128 }.Within(2, 4096);
        var faces = new Option<int>("--faces") { Description = "Vectors in the gallery", DefaultValueFactory = _ => 1_000_000 }.Within(1, 100_000_000);
        var queries = new Option<int>("--queries")
        {
            Description = "Queries timed (with --maintenance: operations of each kind)",
            DefaultValueFactory = _ => 200,
        }.Within(1, 1_000_000);
        var candidates = new Option<int[]>("--candidates")
        {
            Description = "Neighbours asked of the HNSW graph per search (several values: each is timed)",
            AllowMultipleArgumentsPerToken = true,
        }.Within(1, 100_000);
        var connectivity = new Option<int>("--connectivity")
        {
            Description = "HNSW graph degree",
            DefaultValueFactory = _ => new FaceIndexOptions().Connectivity,
        }.Within(2, 512);
        var expansionAdd = new Option<int>("--expansion-add")
        {
            Description = "HNSW build candidate list",
            DefaultValueFactory = _ => new FaceIndexOptions().ExpansionAdd,
        }.Within(1, 100_000);
        var cmd = new Command("gallery", "Search latency, exact and HNSW, over synthetic unit vectors; or the cost of changing a large gallery")
            { faces, queries, candidates, connectivity, expansionAdd, maintenance, folder, encrypted, dimensions, json };
        cmd.SetAction(r => Guard(() => r.GetValue(maintenance)
            ? BenchMaintenance(r.GetValue(faces), r.GetValue(queries), r.GetValue(folder) ?? Path.GetTempPath(),
                r.GetValue(dimensions), r.GetValue(encrypted), r.GetValue(json))
            : BenchGallery(r.GetValue(faces), r.GetValue(queries), r.GetValue(candidates) is { Length: > 0 } cs ? cs : [new FaceIndexOptions().MinCandidates],
                new FaceIndexOptions { Connectivity = r.GetValue(connectivity), ExpansionAdd = r.GetValue(expansionAdd) }, r.GetValue(json))));
        return cmd;
    }

    private Command BenchTracksCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var people = new Option<int>("--people") { Description = "People used at most", DefaultValueFactory = _ => 1000 }.Within(2, 1_000_000);
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
                stdout.WriteLine($"{res.Tracks} tracks ({res.Enrolled} of enrolled people, the others strangers; 4 photos each, 2 of them at a quarter size), model {recognizer.Model.Info.Name}");
                stdout.WriteLine("  identity right: " + string.Join(", ", res.Identity.Select(p => $"{p.Key} {p.Value:P1}")));
                stdout.WriteLine($"  clustering {res.ClusterTracks} half-tracks of {res.People} people: {res.Clusters} clusters, same person together {res.TogetherSame:P1}, different people apart {res.ApartDifferent:P2}");
            }
            return Ok;
        }));
        return cmd;
    }
}
