namespace FaceNet.Cli;

// Commands on models: import, quantize.
public sealed partial class FaceNetCli
{
    private Command ImportCommand()
    {
        var weights = new Argument<string>("weights")
        {
            Description = "Weight file: Keras .h5 (the seed's facenet_keras.h5), PyTorch .pt, .safetensors, a TF.js weights manifest or "
                + "graph model (.json), or an .onnx model",
        };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX model to write", Required = true };
        var format = new Option<string?>("--format")
        {
            Description = "keras, torch, safetensors, tfjs (a weights manifest), tfjs-graph (a graph model.json) or onnx (default: "
                + "detected from the file)",
        };
        format.AcceptOnlyFromAmong("keras", "torch", "safetensors", "tfjs", "tfjs-graph", "onnx");
        var outputNode = new Option<string?>("--output-node")
        {
            Description = "TF.js graph models: the node that gives the embedding (default: the widest vector output)",
        };
        var inputSize = new Option<int?>("--input-size")
        {
            Description = "Side of the square face crop the model takes (default: from the model)",
        }.Within(8, 4096);
        var network = new Option<string?>("--network")
        {
            Description = "The network the weights are for, when not a face embedder: mtcnn-pnet, mtcnn-rnet or mtcnn-onet "
                + "(facenet-pytorch's weights of the bundled detector)",
        };
        network.AcceptOnlyFromAmong("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet");
        var preprocess = PreprocessOption();
        var size = new Option<int?>("--embedding-size")
        {
            Description = "Embedding size (default: read from the weights; 128 for the seed, 512 for facenet-pytorch)",
        }.Within(1, 65536);
        var threshold = ThresholdOption("Default same-person threshold written into the model");
        var alignment = new Option<string?>("--alignment") { Description = "How faces are cropped for this model: margin:N or template:arcface112" };
        var metric = new Option<string?>("--metric") { Description = "euclidean (on unit vectors) or cosine" };
        metric.AcceptOnlyFromAmong("euclidean", "cosine");
        var name = new Option<string?>("--name") { Description = "Model name written into the metadata" };
        var cropScale = Options.Real("--crop-scale", "Liveness weights (MiniFASNet): how many times the face box is grown for the network's patch (default: from the file name, 2.7_80x80_MiniFASNetV2.pth)", 0.5, 16);
        var json = JsonOption();
        var cmd = new Command("import", "Turn FaceNet weights (or an ONNX face model from elsewhere, or MiniFASNet liveness weights) into a self-describing ONNX model")
            { weights, output, format, network, outputNode, inputSize, preprocess, size, threshold, alignment, metric, name, cropScale, json };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(network) is { } net)
            {
                WeightImporter.ImportMtcnnToFile(r.GetValue(weights)!, net["mtcnn-".Length..], r.GetValue(output)!);
                stdout.WriteLine($"wrote {r.GetValue(output)}: {net}");
                return Ok;
            }
            if (r.GetValue(cropScale) is not null || LivenessImporter.Recognizes(r.GetValue(weights)!))
                return ImportLiveness(r.GetValue(weights)!, r.GetValue(output)!, new LivenessImportOptions
                {
                    CropScale = r.GetValue(cropScale), InputSize = r.GetValue(inputSize), Threshold = r.GetValue(threshold), Name = r.GetValue(name),
                }, r.GetValue(json));
            var options = new ImportOptions
            {
                Format = r.GetValue(format) switch
                {
                    "keras" => WeightFormat.Keras, "torch" => WeightFormat.Torch, "safetensors" => WeightFormat.Safetensors,
                    "tfjs" => WeightFormat.Tfjs, "tfjs-graph" => WeightFormat.TfjsGraph, "onnx" => WeightFormat.Onnx, _ => null,
                },
                OutputNode = r.GetValue(outputNode),
                InputSize = r.GetValue(inputSize),
                Preprocess = r.GetValue(preprocess),
                EmbeddingSize = r.GetValue(size),
                Threshold = r.GetValue(threshold),
                Alignment = r.GetValue(alignment),
                Metric = r.GetValue(metric) is { } mt ? Metrics.Parse(mt) : null,
                Name = r.GetValue(name),
            };
            var outPath = r.GetValue(output)!;
            var info = WeightImporter.ImportToFile(r.GetValue(weights)!, outPath, options);
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["output"] = outPath, ["embedding_size"] = info.EmbeddingSize, ["input_size"] = info.InputSize,
                    ["preprocess"] = info.Preprocess, ["threshold"] = info.Threshold, ["source"] = info.Source,
                }, Json));
            else
                stdout.WriteLine($"wrote {outPath}: {info.Name}, {info.EmbeddingSize}-d, input {info.InputSize}x{info.InputSize}, preprocess {info.Preprocess}, alignment {info.Alignment}, threshold {F(info.Threshold)} (from {info.Source})");
            return Ok;
        }));
        return cmd;
    }

    /// <summary>MiniFASNet weights → a liveness network (its metadata says its crop, channels and the pair's threshold).</summary>
    private int ImportLiveness(string weights, string output, LivenessImportOptions options, bool json)
    {
        var info = LivenessImporter.ImportToFile(weights, output, options);
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["output"] = output, ["task"] = LivenessInfo.TaskLiveness, ["name"] = info.Name, ["input_size"] = info.InputSize,
                ["crop_scale"] = info.CropScale, ["channels"] = info.Channels, ["threshold"] = info.Threshold, ["source"] = info.Source,
            }, Json));
        else
            stdout.WriteLine($"wrote {output}: liveness network {info.Name}, input {info.InputSize}x{info.InputSize} {info.Channels.ToUpperInvariant()} {info.Range}, face box grown {info.CropScale.ToString(CultureInfo.InvariantCulture)}x, classes {string.Join(",", info.Classes)} (live: {info.LiveClass}), pair threshold {F(info.Threshold)} (from {info.Source})");
        return Ok;
    }

    private Command QuantizeCommand()
    {
        var model = new Argument<string>("model")
        {
            Description = "The model to quantize: a bundled model's name, default, an .onnx face model or a fused model (.json)",
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "The int8 model to write: .onnx for one network, .json for a fused model (its networks are written beside it)",
            Required = true,
        };
        var calibration = new Option<string[]>("--calibration")
        {
            Description = "Photos (files or folders) whose faces calibrate the activation ranges; a few hundred photos of different people",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var faces = new Option<int>("--faces")
        {
            Description = "Faces used for calibration at most (spread over the photos)",
            DefaultValueFactory = _ => 256,
        }.Within(16, 100_000);
        var percentile = Options.Real("--percentile",
            "Share of each activation's calibration values its int8 range holds (the rest are clipped); 1: from minimum to maximum", 0.9999, 0.9, 1);
        var detector = DetectorOption();
        var cmd = new Command("quantize", "Make an int8 copy of a face model (per-channel int8 weights, activations calibrated on faces in your photos) that runs faster on ONNX Runtime's integer kernels")
            { model, output, calibration, faces, percentile, detector };
        cmd.SetAction(r => Guard(() =>
        {
            var photos = Spread(ImageFiles(r.GetValue(calibration)!, "--calibration"), r.GetValue(faces) * 3 / 2);
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector) });
            var result = FaceNet.Import.Onnx.ModelQuantizer.Quantize(pipeline, photos, r.GetValue(output)!, r.GetValue(faces),
                r.GetValue(percentile), line => stderr.WriteLine(line));
            stdout.WriteLine($"wrote {string.Join(", ", result.Files)}: int8 of {pipeline.Model.Info.Name}, calibrated on {result.CalibrationFaces} faces ({result.Summary})");
            return Ok;
        }));
        return cmd;
    }

    /// <summary>At most <paramref name="count"/> of the files, evenly spread (name order groups people together).</summary>
    private static List<string> Spread(List<string> files, int count)
    {
        if (files.Count <= count) return files;
        return Enumerable.Range(0, count).Select(i => files[(int)((long)i * files.Count / count)]).ToList();
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
            if (!json) stdout.WriteLine($"{endpoint}: {photos.Count} photo(s), up to {requests} requests per level, {Environment.ProcessorCount} cores, service {url}{(host is null ? "" : " (started here)")}");
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
                    stdout.WriteLine($"{level.Clients,3} client(s): {level.RequestsPerSecond,6:F1} requests/s, {level.FacesPerSecond,6:F1} faces/s, p50 {level.P50Ms,6:F0} ms, p99 {level.P99Ms,6:F0} ms"
                        + (level.Failed + level.Busy > 0 ? $", {level.Busy} busy, {level.Failed} failed" : "")
                        + $"  | per request: {string.Join(", ", level.StageMs.Where(p => p.Key is "decode" or "detect" or "align").Select(p => $"{p.Key} {p.Value:F1}"))} ms;"
                        + $" per face: queue {level.StageMs.GetValueOrDefault("queue"):F1} ms; per batch: embed {level.StageMs.GetValueOrDefault("embed"):F1} ms, {level.MeanBatch:F1} faces");
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

    private int BenchGallery(int n, int queryCount, int[] candidateCounts, FaceIndexOptions options, bool json)
    {
        var res = GalleryBenchmark.Search(n, queryCount, candidateCounts, options);
        if (!json)
        {
            stdout.WriteLine($"{n} faces × {res.Dimensions}-d (10 per person), {queryCount} queries (new faces of enrolled people), {Environment.ProcessorCount} cores");
            stdout.WriteLine($"  exact top-1: median {res.ExactMedianMs:F2} ms, p95 {res.ExactP95Ms:F2} ms (load {res.LoadSeconds:F1} s)");
            stdout.WriteLine($"  HNSW (M {options.Connectivity}, ef_add {options.ExpansionAdd}): build {res.BuildSeconds:F1} s");
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
                }, Json));
            else
                stdout.WriteLine($"    {g.Candidates,4} candidates: top-1 median {g.MedianMs:F3} ms, p95 {g.P95Ms:F3} ms, recall@1 {g.RecallAt1:F4} (same person as the exact answer: {g.PersonRecallAt1:F4}); peak memory {res.PeakMemoryMb:F0} MB");
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
            stdout.WriteLine($"{n} faces of {dimensions} values in {(res.Encrypted ? "an encrypted" : "a plain")} SQLite gallery (bulk fill {res.FillSeconds:F1} s, open {res.OpenSeconds:F1} s), "
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
                stdout.WriteLine($"{res.Images} images ({res.MeanMegapixels:F2} MP mean), {parallel} in flight: {res.ImagesPerSecond:F1} images/s end to end; per image decode {res.DecodeMs:F1} ms, " +
                    $"detect ({pipeline.Detector.Name}) {res.DetectMs:F1} ms, align+embed ({pipeline.Model.Info.Name}) {res.AlignEmbedMs:F1} ms; {res.Misses} without a face");
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
