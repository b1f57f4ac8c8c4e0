namespace FaceNet.Cli;

// Commands on models: import, bench.
public sealed partial class FaceNetCli
{
    private Command ImportCommand()
    {
        var weights = new Argument<string>("weights") { Description = "Weight file: Keras .h5 (the seed's facenet_keras.h5), PyTorch .pt, .safetensors, a TF.js weights manifest or graph model (.json), or an .onnx model" };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX model to write", Required = true };
        var format = new Option<string?>("--format") { Description = "keras, torch, safetensors, tfjs (a weights manifest), tfjs-graph (a graph model.json) or onnx (default: detected from the file)" };
        format.AcceptOnlyFromAmong("keras", "torch", "safetensors", "tfjs", "tfjs-graph", "onnx");
        var outputNode = new Option<string?>("--output-node") { Description = "TF.js graph models: the node that gives the embedding (default: the widest vector output)" };
        var inputSize = new Option<int?>("--input-size") { Description = "Side of the square face crop the model takes (default: from the model)" };
        var network = new Option<string?>("--network") { Description = "The network the weights are for, when not a face embedder: mtcnn-pnet, mtcnn-rnet or mtcnn-onet (facenet-pytorch's weights of the bundled detector)" };
        network.AcceptOnlyFromAmong("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet");
        var preprocess = PreprocessOption();
        var size = new Option<int?>("--embedding-size") { Description = "Embedding size (default: read from the weights; 128 for the seed, 512 for facenet-pytorch)" };
        var threshold = new Option<double?>("--threshold") { Description = "Default same-person threshold written into the model" };
        var alignment = new Option<string?>("--alignment") { Description = "How faces are cropped for this model: margin:N or template:arcface112" };
        var metric = new Option<string?>("--metric") { Description = "euclidean (on unit vectors) or cosine" };
        metric.AcceptOnlyFromAmong("euclidean", "cosine");
        var name = new Option<string?>("--name") { Description = "Model name written into the metadata" };
        var json = JsonOption();
        var cmd = new Command("import", "Turn FaceNet weights (or an ONNX face model from elsewhere) into a self-describing ONNX model")
            { weights, output, format, network, outputNode, inputSize, preprocess, size, threshold, alignment, metric, name, json };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(network) is { } net)
            {
                WeightImporter.ImportMtcnnToFile(r.GetValue(weights)!, net["mtcnn-".Length..], r.GetValue(output)!);
                stdout.WriteLine($"wrote {r.GetValue(output)}: {net}");
                return Ok;
            }
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
                Metric = r.GetValue(metric),
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

    private Command BenchCommand()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model to time (default: the seed's Inception-ResNet-V1 with random weights; with --images, the bundled default)" };
        var batch = new Option<int[]>("--batch") { Description = "Batch sizes (default: 1 and 32)", AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "Time spent on each batch size", DefaultValueFactory = _ => 5 };
        var images = new Option<string[]>("--images") { Description = "Photos (files or folders): time the whole pipeline, decode → detect → align → embed", AllowMultipleArgumentsPerToken = true };
        var detector = DetectorOption();
        var parallel = new Option<int>("--parallel") { Description = "With --images: photos in flight at once (default: one per core)", DefaultValueFactory = _ => 0 };
        var gallery = new Option<bool>("--gallery") { Description = "Time gallery search instead: exact and HNSW top-1 over synthetic unit vectors" };
        var faces = new Option<int>("--faces") { Description = "With --gallery: vectors in the gallery", DefaultValueFactory = _ => 1_000_000 };
        var queries = new Option<int>("--queries") { Description = "With --gallery: queries timed", DefaultValueFactory = _ => 200 };
        var candidates = new Option<int[]>("--candidates") { Description = "With --gallery: neighbours asked of the HNSW graph per search (several values: each is timed)", AllowMultipleArgumentsPerToken = true };
        var connectivity = new Option<int>("--connectivity") { Description = "With --gallery: HNSW graph degree", DefaultValueFactory = _ => new FaceIndexOptions().Connectivity };
        var expansionAdd = new Option<int>("--expansion-add") { Description = "With --gallery: HNSW build candidate list", DefaultValueFactory = _ => new FaceIndexOptions().ExpansionAdd };
        var threads = ThreadsOption(); var json = JsonOption();
        var cmd = new Command("bench", "Throughput: embedding faces/s per batch size and peak memory; with --images, photos/s end to end; with --gallery, search latency")
            { model, batch, seconds, images, detector, parallel, gallery, faces, queries, candidates, connectivity, expansionAdd, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(gallery))
                return BenchGallery(r.GetValue(faces), r.GetValue(queries), r.GetValue(candidates) is { Length: > 0 } cs ? cs : [new FaceIndexOptions().MinCandidates],
                    new FaceIndexOptions { ApproximateFrom = int.MaxValue, Connectivity = r.GetValue(connectivity), ExpansionAdd = r.GetValue(expansionAdd) }, r.GetValue(json));
            if (r.GetValue(images) is { Length: > 0 } photos)
                return BenchPipeline(photos, r.GetValue(model), r.GetValue(detector), r.GetValue(threads), r.GetValue(parallel), r.GetValue(json));
            var batches = r.GetValue(batch) is { Length: > 0 } b ? b : [1, 32];
            if (batches.Any(x => x < 1)) { stderr.WriteLine("error: --batch: batch sizes must be positive"); return Usage; }
            var modelArg = r.GetValue(model);
            var options = new EmbedderOptions { Threads = r.GetValue(threads), MaxBatch = batches.Max() };
            FaceEmbedder embedder;
            string name;
            if (modelArg is null)
            {
                var (bytes, _) = WeightImporter.Import(InceptionResNetV1.RandomWeights(WeightFormat.Keras));
                embedder = FaceEmbedder.FromOnnx(bytes, "inception-resnet-v1 (seed, random weights)", options);
                name = embedder.ModelPath;
            }
            else
            {
                var path = BundledModels.ResolveEmbedder(modelArg);
                embedder = FaceEmbedder.Load(path, options);
                name = path;
            }
            using (embedder)
            {
                var rng = new Random(7);
                int size = embedder.Info.InputSize;
                foreach (var n in batches)
                {
                    var faces = Enumerable.Range(0, n).Select(_ =>
                    {
                        var px = new byte[size * size * 3];
                        rng.NextBytes(px);
                        return new RgbImage(size, size, px);
                    }).ToArray();
                    embedder.Embed(faces); // warm-up: first run allocates and plans
                    var sw = Stopwatch.StartNew();
                    long count = 0;
                    int runs = 0;
                    while (runs < 3 || sw.Elapsed.TotalSeconds < r.GetValue(seconds))
                    {
                        embedder.Embed(faces);
                        count += n;
                        runs++;
                    }
                    double fps = count / sw.Elapsed.TotalSeconds;
                    double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["faces_per_second"] = Math.Round(fps, 2), ["batch"] = n, ["model"] = name,
                            ["ms_per_batch"] = Math.Round(sw.Elapsed.TotalMilliseconds / runs, 2), ["peak_memory_mb"] = Math.Round(peakMb, 1),
                            ["threads"] = options.Threads, ["cores"] = Environment.ProcessorCount,
                        }, Json));
                    else
                        stdout.WriteLine($"batch {n,3}: {fps,8:F2} faces/s  ({sw.Elapsed.TotalMilliseconds / runs:F1} ms per batch, {runs} runs)  peak memory {peakMb:F0} MB  [{name}, {Environment.ProcessorCount} cores]");
                }
            }
            return Ok;
        }));
        return cmd;
    }

    /// <summary>
    /// Gallery search at scale: <paramref name="n"/> random unit vectors (128-d), queries that are noisy
    /// copies of stored ones; exact top-1 latency, HNSW build time, top-1 latency and recall@1 against
    /// the exact answer, and the process's peak memory.
    /// </summary>
    private int BenchGallery(int n, int queryCount, int[] candidateCounts, FaceIndexOptions options, bool json)
    {
        const int dim = 128;
        var rng = new Random(42);
        float[] Unit()
        {
            var v = new float[dim];
            for (int i = 0; i < dim; i++) v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            L2.NormalizeInPlace(v);
            return v;
        }
        // A gallery's faces come in identities: 10 faces per person, each the person's direction plus
        // noise (same-person distances about 0.6–0.9 on unit vectors, as real face embeddings).
        var sw = Stopwatch.StartNew();
        using var index = new FaceIndex(dim, "euclidean", options);
        const int chunk = 50_000, perPerson = 10;
        float[] Face(float[] person)
        {
            var noise = Unit();
            var v = new float[dim];
            for (int d = 0; d < dim; d++) v[d] = person[d] + 0.45f * noise[d];
            L2.NormalizeInPlace(v);
            return v;
        }
        var persons = new List<float[]>();
        for (int added = 0; added < n; added += chunk)
            index.Add(Enumerable.Range(added, Math.Min(chunk, n - added)).Select(i =>
            {
                if (i % perPerson == 0) persons.Add(Unit());
                return Face(persons[i / perPerson]);
            }).ToList());
        double loadS = sw.Elapsed.TotalSeconds;
        // Queries: new photos of enrolled people (a fresh face of a random person).
        var exactTimes = new List<double>();
        var exactAnswers = new int[queryCount];
        var queryVectors = Enumerable.Range(0, queryCount).Select(_ => Face(persons[rng.Next(persons.Count)])).ToArray();
        index.SearchExact(queryVectors[0], 1); // warm-up
        for (int i = 0; i < queryCount; i++)
        {
            var t = Stopwatch.StartNew();
            exactAnswers[i] = index.SearchExact(queryVectors[i], 1)[0].Index;
            exactTimes.Add(t.Elapsed.TotalMilliseconds);
        }
        sw.Restart();
        index.BuildGraph();
        double buildS = sw.Elapsed.TotalSeconds;
        double P(List<double> x, double p) { var s = x.OrderBy(v => v).ToList(); return s[Math.Min(s.Count - 1, (int)(p * s.Count))]; }
        if (!json)
        {
            stdout.WriteLine($"{n} faces × {dim}-d (10 per person), {queryCount} queries (new faces of enrolled people), {Environment.ProcessorCount} cores");
            stdout.WriteLine($"  exact top-1: median {P(exactTimes, 0.5):F2} ms, p95 {P(exactTimes, 0.95):F2} ms (load {loadS:F1} s)");
            stdout.WriteLine($"  HNSW (M {options.Connectivity}, ef_add {options.ExpansionAdd}): build {buildS:F1} s");
        }
        foreach (var candidates in candidateCounts)
        {
            var annTimes = new List<double>();
            int hits = 0, personHits = 0;
            for (int i = 0; i < queryCount; i++)
            {
                var t = Stopwatch.StartNew();
                var a = index.Search(queryVectors[i], 1, candidates);
                annTimes.Add(t.Elapsed.TotalMilliseconds);
                if (a.Length > 0 && a[0].Index == exactAnswers[i]) hits++;
                if (a.Length > 0 && a[0].Index / perPerson == exactAnswers[i] / perPerson) personHits++;
            }
            double recall = (double)hits / queryCount, personRecall = (double)personHits / queryCount;
            double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
            if (json)
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["faces"] = n, ["dimensions"] = dim, ["queries"] = queryCount, ["load_seconds"] = Math.Round(loadS, 2),
                    ["exact_top1_ms_median"] = Math.Round(P(exactTimes, 0.5), 3), ["exact_top1_ms_p95"] = Math.Round(P(exactTimes, 0.95), 3),
                    ["hnsw_build_seconds"] = Math.Round(buildS, 2), ["hnsw_connectivity"] = options.Connectivity, ["hnsw_expansion_add"] = options.ExpansionAdd, ["candidates"] = candidates,
                    ["hnsw_top1_ms_median"] = Math.Round(P(annTimes, 0.5), 4), ["hnsw_top1_ms_p95"] = Math.Round(P(annTimes, 0.95), 4),
                    ["hnsw_recall_at_1"] = Math.Round(recall, 4), ["hnsw_person_recall_at_1"] = Math.Round(personRecall, 4),
                    ["peak_memory_mb"] = Math.Round(peakMb, 1), ["cores"] = Environment.ProcessorCount,
                }, Json));
            else
                stdout.WriteLine($"    {candidates,4} candidates: top-1 median {P(annTimes, 0.5):F3} ms, p95 {P(annTimes, 0.95):F3} ms, recall@1 {recall:F4} (same person as the exact answer: {personRecall:F4}); peak memory {peakMb:F0} MB");
        }
        return Ok;
    }

    /// <summary>
    /// Times the pipeline over a set of photos after one warm-up pass: stage times per image (decode,
    /// detect, align + embed) and throughput with <paramref name="parallel"/> photos in flight.
    /// </summary>
    private int BenchPipeline(string[] inputs, string? model, string? detector, int threads, int parallel, bool json)
    {
        var files = inputs.SelectMany(i => Directory.Exists(i)
            ? Directory.EnumerateFiles(i, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImageFile)
            : [i]).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new UsageException("--images: no image files found");
        if (parallel < 1) parallel = Environment.ProcessorCount;
        // With several photos in flight, each ONNX Runtime call gets one thread unless told otherwise.
        using var pipeline = Pipeline(model, detector, false, threads > 0 ? threads : parallel > 1 ? 1 : 0, null, null, false, null);
        var bytes = files.Select(File.ReadAllBytes).ToArray();
        long decodeTicks = 0, detectTicks = 0, embedTicks = 0, pixels = 0;
        int faces = 0, misses = 0;
        double wall = 0;
        for (int pass = 0; pass < 2; pass++) // pass 0 warms up ONNX Runtime and the JIT
        {
            decodeTicks = detectTicks = embedTicks = pixels = 0; faces = misses = 0;
            var total = Stopwatch.StartNew();
            Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
            {
                long t0 = Stopwatch.GetTimestamp();
                RgbImage image;
                try { image = ImageDecoder.Decode(bytes[i], files[i]); }
                catch (ImageException e) { if (pass == 1) lock (stderr) ReportInput(e); return; }
                long t1 = Stopwatch.GetTimestamp();
                var found = pipeline.Detector.Detect(image);
                long t2 = Stopwatch.GetTimestamp();
                Interlocked.Add(ref decodeTicks, t1 - t0);
                Interlocked.Add(ref detectTicks, t2 - t1);
                Interlocked.Add(ref pixels, (long)image.Width * image.Height);
                if (found.Count == 0) { Interlocked.Increment(ref misses); return; }
                pipeline.Embed(image, [found[MainFace.Index(found, image.Width, image.Height)]]);
                Interlocked.Add(ref embedTicks, Stopwatch.GetTimestamp() - t2);
                Interlocked.Increment(ref faces);
            });
            wall = total.Elapsed.TotalSeconds;
        }
        double Ms(long ticks, int n) => ticks * 1000.0 / Stopwatch.Frequency / Math.Max(1, n);
        double perSecond = files.Length / wall;
        double mp = pixels / (double)files.Length / 1e6;
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["images"] = files.Length, ["images_per_second"] = Math.Round(perSecond, 2), ["parallel"] = parallel, ["mean_megapixels"] = Math.Round(mp, 3),
                ["decode_ms"] = Math.Round(Ms(decodeTicks, files.Length), 2), ["detect_ms"] = Math.Round(Ms(detectTicks, files.Length), 2),
                ["align_embed_ms"] = Math.Round(Ms(embedTicks, faces), 2), ["misses"] = misses,
                ["detector"] = pipeline.Detector.Name, ["model"] = pipeline.Model.Info.Name, ["cores"] = Environment.ProcessorCount,
            }, Json));
        else
            stdout.WriteLine($"{files.Length} images ({mp:F2} MP mean), {parallel} in flight: {perSecond:F1} images/s end to end; per image decode {Ms(decodeTicks, files.Length):F1} ms, " +
                $"detect ({pipeline.Detector.Name}) {Ms(detectTicks, files.Length):F1} ms, align+embed ({pipeline.Model.Info.Name}) {Ms(embedTicks, faces):F1} ms; {misses} without a face");
        return Ok;
    }
}
