using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Evaluation;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Matching;
using FaceNet.Models;
using FaceNet.Weights;

namespace FaceNet.Cli;

/// <summary>
/// The <c>facenet</c> command line: parsing, output and exit codes only; the work is the library's.
/// Exit codes: 0 success, 1 usage, 2 input (image) error, 3 model or weights error.
/// </summary>
public sealed class FaceNetCli(TextWriter stdout, TextWriter stderr)
{
    public const int Ok = 0, Usage = 1, InputError = 2, ModelError = 3;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    private string[] _args = [];

    public int Run(string[] args)
    {
        _args = args;
        var root = new RootCommand("FaceNet for .NET: face embeddings, verification and model import on ONNX Runtime.");
        root.Subcommands.Add(ImportCommand());
        root.Subcommands.Add(EmbedCommand());
        root.Subcommands.Add(CompareCommand());
        root.Subcommands.Add(DetectCommand());
        root.Subcommands.Add(AlignCommand());
        root.Subcommands.Add(EvaluateCommand());
        root.Subcommands.Add(CalibrateCommand());
        root.Subcommands.Add(EnrollCommand());
        root.Subcommands.Add(IdentifyCommand());
        root.Subcommands.Add(SubjectsCommand());
        root.Subcommands.Add(ClusterCommand());
        root.Subcommands.Add(BenchCommand());
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    // ----- options shared by several commands -----
    private static Option<string?> ModelOption() => new("--model", "-m") { Description = "Model: an .onnx file, weights to import on the fly (.h5, .pt, .safetensors), or a bundled model's name" };
    private static Option<bool> JsonOption() => new("--json") { Description = "Machine-readable output on stdout" };
    private static Option<bool> AlignedOption() => new("--aligned") { Description = "Each image is already a face crop: resize it to the model input, no detection" };
    private static Option<int> ThreadsOption() => new("--threads") { Description = "ONNX Runtime threads (0: one per core)", DefaultValueFactory = _ => 0 };
    private static Option<string?> PreprocessOption() => new("--preprocess") { Description = "Override the model's preprocessing: prewhiten, fixed or meanstd:r,g,b:r,g,b" };
    private static Option<string?> DetectorOption()
    {
        var o = new Option<string?>("--detector", "-d") { Description = "Face detector: yunet (default), mtcnn or haar" };
        o.AcceptOnlyFromAmong([.. Detectors.Names]);
        return o;
    }
    private static Option<bool> AllFacesOption() => new("--all-faces") { Description = "Every face of each image, not only the largest" };
    private static Option<bool> FlipOption() => new("--flip") { Description = "Average the embeddings of each face and its mirror image" };
    private static Option<string?> AlignmentOption() => new("--alignment") { Description = "Override the model's alignment: margin:N or template:arcface112" };
    private static Argument<string[]> ImagesArgument() => new("images") { Arity = ArgumentArity.OneOrMore, Description = "Image files" };

    private Command ImportCommand()
    {
        var weights = new Argument<string>("weights") { Description = "Weight file: Keras .h5 (the seed's facenet_keras.h5), PyTorch .pt, .safetensors, a TF.js weights manifest (.json), or an .onnx model" };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX model to write", Required = true };
        var format = new Option<string?>("--format") { Description = "keras, torch, safetensors, tfjs (a weights manifest) or onnx (default: detected from the file)" };
        format.AcceptOnlyFromAmong("keras", "torch", "safetensors", "tfjs", "onnx");
        var preprocess = PreprocessOption();
        var size = new Option<int?>("--embedding-size") { Description = "Embedding size (default: read from the weights; 128 for the seed, 512 for facenet-pytorch)" };
        var threshold = new Option<double?>("--threshold") { Description = "Default same-person threshold written into the model" };
        var alignment = new Option<string?>("--alignment") { Description = "How faces are cropped for this model: margin:N or template:arcface112" };
        var metric = new Option<string?>("--metric") { Description = "euclidean (on unit vectors) or cosine" };
        metric.AcceptOnlyFromAmong("euclidean", "cosine");
        var name = new Option<string?>("--name") { Description = "Model name written into the metadata" };
        var json = JsonOption();
        var cmd = new Command("import", "Turn FaceNet weights (or an ONNX face model from elsewhere) into a self-describing ONNX model")
            { weights, output, format, preprocess, size, threshold, alignment, metric, name, json };
        cmd.SetAction(r => Guard(() =>
        {
            var options = new ImportOptions
            {
                Format = r.GetValue(format) switch
                {
                    "keras" => WeightFormat.Keras, "torch" => WeightFormat.Torch, "safetensors" => WeightFormat.Safetensors,
                    "tfjs" => WeightFormat.Tfjs, "onnx" => WeightFormat.Onnx, _ => null,
                },
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

    private Command EmbedCommand()
    {
        var model = ModelOption(); var aligned = AlignedOption(); var json = JsonOption(); var threads = ThreadsOption(); var preprocess = PreprocessOption();
        var detector = DetectorOption(); var allFaces = AllFacesOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var images = ImagesArgument();
        var cmd = new Command("embed", "Print the embedding of the largest face of each image (--all-faces: of every face)")
            { model, detector, aligned, allFaces, flip, alignment, json, threads, preprocess, images };
        cmd.SetAction(r => Guard(() =>
        {
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), r.GetValue(aligned), r.GetValue(threads), r.GetValue(preprocess), null, r.GetValue(flip), r.GetValue(alignment));
            bool failed = false;
            foreach (var file in r.GetValue(images)!)
            {
                IReadOnlyList<FaceEmbedding> faces;
                try { faces = Faces(pipeline, file, r.GetValue(aligned), r.GetValue(allFaces)); }
                catch (ImageException e) { ReportInput(e); failed = true; continue; }
                foreach (var f in faces)
                {
                    var box = r.GetValue(aligned) ? null : f.Face.Box.ToArray();
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonSerializer.Serialize(new EmbedLine(file, f.Index, box, f.Embedding), Json));
                    else
                        stdout.WriteLine($"{file} face {f.Index}{(box is null ? "" : $" [{string.Join(",", box)}]")}: {f.Embedding.Length}-d [{string.Join(", ", f.Embedding.Take(4).Select(v => F(v)))}, …]");
                }
            }
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private sealed record EmbedLine(
        [property: System.Text.Json.Serialization.JsonPropertyName("file")] string File,
        [property: System.Text.Json.Serialization.JsonPropertyName("face")] int Face,
        [property: System.Text.Json.Serialization.JsonPropertyName("box")] int[]? Box,
        [property: System.Text.Json.Serialization.JsonPropertyName("embedding")] float[] Embedding);

    private Command CompareCommand()
    {
        var model = ModelOption(); var aligned = AlignedOption(); var json = JsonOption(); var threads = ThreadsOption(); var preprocess = PreprocessOption();
        var detector = DetectorOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var threshold = new Option<double?>("--threshold") { Description = "Same-person threshold (default: the model's)" };
        var images = new Argument<string[]>("images") { Arity = new ArgumentArity(2, 100_000), Description = "Two or more image files" };
        var cmd = new Command("compare", "Distance between the largest faces of images, and whether they are the same person")
            { model, detector, aligned, flip, alignment, threshold, json, threads, preprocess, images };
        cmd.SetAction(r => Guard(() =>
        {
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), r.GetValue(aligned), r.GetValue(threads), r.GetValue(preprocess), r.GetValue(threshold), r.GetValue(flip), r.GetValue(alignment));
            var files = r.GetValue(images)!;
            var embeddings = new List<float[]>();
            bool failed = false;
            foreach (var file in files)
            {
                try { embeddings.Add(Faces(pipeline, file, r.GetValue(aligned), false)[0].Embedding); }
                catch (ImageException e) { ReportInput(e); failed = true; }
            }
            if (failed) return InputError;
            var info = pipeline.Embedder.Info;
            if (files.Length == 2)
            {
                var v = new Verifier(info.Metric, info.Threshold).Verify(embeddings[0], embeddings[1]);
                if (r.GetValue(json))
                    stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["distance"] = Math.Round(v.Distance, 6), ["threshold"] = v.Threshold, ["same"] = v.Same, ["metric"] = v.Metric,
                        ["far"] = r.GetValue(threshold) is null ? info.ThresholdFar : null,
                        ["threshold_source"] = ThresholdSource(info, r.GetValue(threshold)),
                    }, Json));
                else
                    stdout.WriteLine($"distance {F(v.Distance)}  threshold {F(v.Threshold)} ({v.Metric}; {ThresholdSource(info, r.GetValue(threshold))})  {(v.Same ? "same person" : "different people")}");
                return Ok;
            }
            var matrix = new double[files.Length][];
            for (int i = 0; i < files.Length; i++)
            {
                matrix[i] = new double[files.Length];
                for (int j = 0; j < files.Length; j++) matrix[i][j] = Math.Round(Distance.Of(info.Metric, embeddings[i], embeddings[j]), 6);
            }
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["files"] = files, ["distances"] = matrix, ["threshold"] = info.Threshold }, Json));
            else
            {
                stdout.WriteLine($"{info.Metric} distances (threshold {F(info.Threshold)}):");
                for (int i = 0; i < files.Length; i++)
                    stdout.WriteLine(string.Join("  ", matrix[i].Select(d => F(d))) + "  " + files[i]);
                for (int i = 0; i < files.Length; i++)
                    for (int j = i + 1; j < files.Length; j++)
                        stdout.WriteLine($"{(matrix[i][j] <= info.Threshold ? "same person     " : "different people")}  {F(matrix[i][j])}  {files[i]}  {files[j]}");
            }
            return Ok;
        }));
        return cmd;
    }

    private Command EvaluateCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var pairs = new Option<string>("--pairs") { Description = "LFW pairs.txt, or a CSV file_x,file_y,same", Required = true };
        var root = new Option<string>("--root") { Description = "Folder the pairs' images are relative to (LFW: ROOT/name/name_0001.jpg)", Required = true };
        var folds = new Option<int>("--folds") { Description = "Folds for a CSV (LFW files say their own)", DefaultValueFactory = _ => 10 };
        var far = new Option<double>("--far") { Description = "False-accept rate of the VAL@FAR figure", DefaultValueFactory = _ => 1e-3 };
        var cache = new Option<string?>("--cache") { Description = $"Embedding cache folder (default {EmbeddingCache.DefaultDirectory})" };
        var noCache = new Option<bool>("--no-cache") { Description = "Do not read or write the embedding cache" };
        var fallback = new Option<bool>("--fallback-center-crop") { Description = "Embed the image centre when no face is found, instead of counting a failure" };
        var plot = new Option<string?>("--plot") { Description = "Write the ROC curve and the distance histograms as a PNG" };
        var reportPath = new Option<string?>("--report") { Description = "Write a Markdown report: figures, failures, the command that made it" };
        var cmd = new Command("evaluate", "Verification accuracy on labelled pairs with the LFW protocol: accuracy ± std, VAL@FAR, AUC, EER, threshold")
            { pairs, root, model, detector, flip, alignment, folds, far, cache, noCache, fallback, plot, reportPath, json, threads };
        cmd.SetAction(r => Guard(() =>
        {
            var list = PairsFile.Read(r.GetValue(pairs)!, r.GetValue(root)!, r.GetValue(folds));
            var modelPath = BundledModels.ResolveEmbedder(r.GetValue(model));
            // Images are decoded and detected in parallel (one per core), so each detector call gets one thread.
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), false, r.GetValue(threads), null, null, r.GetValue(flip), r.GetValue(alignment), detectorThreads: 1);
            var key = EmbeddingCache.PipelineKey(modelPath, pipeline.Detector.Name, pipeline.Alignment, r.GetValue(flip), r.GetValue(fallback));
            bool showProgress = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
            var evaluator = new Evaluator(pipeline, key, new EvaluationOptions
            {
                FarTarget = r.GetValue(far),
                CacheDirectory = r.GetValue(noCache) ? null : r.GetValue(cache) ?? EmbeddingCache.DefaultDirectory,
                FallbackCenterCrop = r.GetValue(fallback),
                Progress = showProgress ? (done, total) => stderr.Write($"\rembedding {done}/{total} images") : null,
            });
            var report = evaluator.Run(list);
            if (showProgress) stderr.WriteLine();
            foreach (var f in report.Failures) stderr.WriteLine("warning: " + f);
            var res = report.Result;
            var info = pipeline.Embedder.Info;
            double atModel = Protocol.Accuracy(Enumerable.Range(0, report.Distances.Length), report.Distances, report.Same, info.Threshold);
            var title = $"{Path.GetFileName(r.GetValue(pairs))}: {info.Name} + {pipeline.Detector.Name}, {res.Pairs} pairs, {res.Folds} folds";
            if (r.GetValue(plot) is { } plotPath) RocPlot.Save(report, plotPath, title);
            if (r.GetValue(reportPath) is { } mdPath)
                File.WriteAllText(mdPath, EvaluationMarkdown.Render(report, title, "facenet " + string.Join(' ', _args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)), info.Threshold, atModel, r.GetValue(plot)));
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["accuracy"] = Math.Round(res.Accuracy, 5), ["accuracy_std"] = Math.Round(res.AccuracyStd, 5),
                    ["val"] = Math.Round(res.Val, 5), ["val_std"] = Math.Round(res.ValStd, 5), ["far"] = Math.Round(res.Far, 6), ["far_target"] = res.FarTarget,
                    ["auc"] = Math.Round(res.Auc, 5), ["eer"] = Math.Round(res.Eer, 5), ["threshold"] = Math.Round(res.Threshold, 5),
                    ["model_threshold"] = info.Threshold, ["accuracy_at_model_threshold"] = Math.Round(atModel, 5),
                    ["metric"] = report.Metric, ["pairs"] = res.Pairs, ["folds"] = res.Folds, ["images"] = report.Images,
                    ["failed_images"] = report.FailedImages, ["failed_pairs"] = report.FailedPairs, ["center_cropped"] = report.CenterCropped,
                    ["seconds"] = Math.Round(report.Seconds, 2), ["model"] = modelPath, ["detector"] = pipeline.Detector.Name,
                }, Json));
            else
            {
                stdout.WriteLine($"pairs {res.Pairs} ({list.Count(p => p.Same)} same), folds {res.Folds}, images {report.Images}, model {Path.GetFileName(modelPath)}, detector {pipeline.Detector.Name}");
                stdout.WriteLine($"accuracy      {res.Accuracy:F4} ± {res.AccuracyStd:F4}");
                stdout.WriteLine($"VAL@FAR={res.FarTarget:G3}  {res.Val:F4} ± {res.ValStd:F4}  (FAR reached {res.Far:F5})");
                stdout.WriteLine($"AUC           {res.Auc:F4}");
                stdout.WriteLine($"EER           {res.Eer:F4}");
                stdout.WriteLine($"threshold     {res.Threshold:F4} ({report.Metric}, best on all pairs); at the model's {info.Threshold:F4}: accuracy {atModel:F4}");
                stdout.WriteLine($"failures      {report.FailedImages} image(s) without a face, {report.FailedPairs} pair(s) counted as non-matches{(report.CenterCropped > 0 ? $"; {report.CenterCropped} centre-cropped" : "")}");
                stdout.WriteLine($"time          {report.Seconds:F1} s");
            }
            return Ok;
        }));
        return cmd;
    }

    private Command CalibrateCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var root = new Option<string>("--root") { Description = "A folder of identities (ROOT/person/*.jpg), or the folder a --pairs file is relative to", Required = true };
        var pairs = new Option<string?>("--pairs") { Description = "Labelled pairs (LFW pairs.txt or CSV) instead of identity folders" };
        var far = new Option<double?>("--far") { Description = "Target false-accept rate (default 1e-3)" };
        var frr = new Option<double?>("--frr") { Description = "Target false-reject rate instead of a FAR" };
        var output = new Option<string?>("--output", "-o") { Description = "Write a copy of the model with the calibrated threshold (.onnx)" };
        var cache = new Option<string?>("--cache") { Description = "Embedding cache folder" };
        var noCache = new Option<bool>("--no-cache") { Description = "Do not read or write the embedding cache" };
        var cmd = new Command("calibrate", "The distance threshold for a target false-accept (or false-reject) rate on your own labelled faces")
            { root, pairs, far, frr, model, detector, flip, alignment, output, cache, noCache, json, threads };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(far) is not null && r.GetValue(frr) is not null) throw new UsageException("give --far or --frr, not both");
            double rate = r.GetValue(frr) ?? r.GetValue(far) ?? 1e-3;
            if (rate is <= 0 or >= 1) throw new UsageException("the target rate must lie between 0 and 1");
            var list = r.GetValue(pairs) is { } pairsPath ? PairsFile.Read(pairsPath, r.GetValue(root)!) : Calibration.PairsFromFolders(r.GetValue(root)!);
            var modelPath = BundledModels.ResolveEmbedder(r.GetValue(model));
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), false, r.GetValue(threads), null, null, r.GetValue(flip), r.GetValue(alignment), detectorThreads: 1);
            var key = EmbeddingCache.PipelineKey(modelPath, pipeline.Detector.Name, pipeline.Alignment, r.GetValue(flip), false);
            var report = new Evaluator(pipeline, key, new EvaluationOptions
            {
                CacheDirectory = r.GetValue(noCache) ? null : r.GetValue(cache) ?? EmbeddingCache.DefaultDirectory,
            }).Run(list);
            foreach (var f in report.Failures) stderr.WriteLine("warning: " + f);
            var genuine = report.Distances.Where((_, i) => report.Same[i]).ToArray();
            var impostor = report.Distances.Where((_, i) => !report.Same[i]).ToArray();
            var result = r.GetValue(frr) is not null ? Calibration.AtFrr(genuine, impostor, rate) : Calibration.AtFar(genuine, impostor, rate);
            var info = pipeline.Embedder.Info;
            string note = $"{result.Target}={rate:G3} on {result.GenuinePairs} same and {result.ImpostorPairs} different pairs ({Path.GetFileName(Path.TrimEndingDirectorySeparator(r.GetValue(pairs) ?? r.GetValue(root)!))}, {pipeline.Detector.Name}, {DateTime.UtcNow:yyyy-MM-dd})";
            if (r.GetValue(output) is { } outPath)
            {
                var calibrated = info with { Threshold = Math.Round(result.Threshold, 6), ThresholdFar = result.Target == "far" ? rate : result.Far, Calibration = note };
                WriteCalibratedModel(modelPath, calibrated, outPath);
            }
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["threshold"] = Math.Round(result.Threshold, 6), ["target"] = result.Target, ["target_rate"] = rate, ["metric"] = info.Metric,
                    ["far"] = Math.Round(result.Far, 6), ["far_ci95"] = new[] { Math.Round(result.FarLow, 6), Math.Round(result.FarHigh, 6) },
                    ["frr"] = Math.Round(result.Frr, 6), ["frr_ci95"] = new[] { Math.Round(result.FrrLow, 6), Math.Round(result.FrrHigh, 6) },
                    ["genuine_pairs"] = result.GenuinePairs, ["impostor_pairs"] = result.ImpostorPairs, ["sufficient"] = result.Sufficient,
                    ["failed_images"] = report.FailedImages, ["model_threshold"] = info.Threshold, ["output"] = r.GetValue(output),
                }, Json));
            else
            {
                stdout.WriteLine($"threshold {result.Threshold:F4} ({info.Metric}) for {result.Target.ToUpperInvariant()} {rate:G3}, on {result.GenuinePairs} same and {result.ImpostorPairs} different pairs");
                stdout.WriteLine($"  FAR {result.Far:F5}  (95% CI {result.FarLow:F5} – {result.FarHigh:F5})");
                stdout.WriteLine($"  FRR {result.Frr:F5}  (95% CI {result.FrrLow:F5} – {result.FrrHigh:F5})");
                stdout.WriteLine($"  the model's own threshold is {info.Threshold:F4}{(r.GetValue(output) is { } o ? $"; wrote {o}" : "")}");
                if (!result.Sufficient)
                    stdout.WriteLine($"  warning: {result.ImpostorPairs} different pairs cannot show a FAR of {rate:G3} (need at least {Math.Ceiling(3 / rate)}); the upper bound above is what the data supports");
            }
            return Ok;
        }));
        return cmd;
    }

    private static void WriteCalibratedModel(string modelPath, ModelInfo info, string output)
    {
        byte[] onnx = Path.GetExtension(modelPath).Equals(".onnx", StringComparison.OrdinalIgnoreCase)
            ? File.ReadAllBytes(modelPath)
            : WeightImporter.Import(modelPath).Onnx;
        var bytes = FaceNet.Onnx.OnnxModelFile.WithMetadata(onnx, info.ToMetadata(), modelPath);
        var tmp = output + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, output, overwrite: true);
    }

    private static Option<string> GalleryOption() => new("--gallery", "-g") { Description = "The gallery file (SQLite)", Required = true };

    /// <summary>The gallery binding of a model: its name, a hash of its file, its embedding size and preprocessing.</summary>
    private static GalleryModel BindingOf(string modelPath, ModelInfo info)
    {
        using var f = File.OpenRead(modelPath);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(f))[..16];
        return new GalleryModel($"{info.Name}:{hash}", info.EmbeddingSize, info.Preprocess, info.Metric);
    }

    private Command EnrollCommand()
    {
        var gallery = GalleryOption(); var model = ModelOption(); var detector = DetectorOption(); var aligned = AlignedOption();
        var allFaces = AllFacesOption(); var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var name = new Option<string>("--name", "-n") { Description = "Who the images show", Required = true };
        var images = ImagesArgument();
        var cmd = new Command("enroll", "Add a person's face(s) to a gallery: one face per image (the largest), each committed before it is reported")
            { gallery, name, model, detector, aligned, allFaces, flip, threads, json, images };
        cmd.SetAction(r => Guard(() =>
        {
            var modelPath = BundledModels.ResolveEmbedder(r.GetValue(model));
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), r.GetValue(aligned), r.GetValue(threads), null, null, r.GetValue(flip), null);
            using var store = GalleryStore.Open(r.GetValue(gallery)!, BindingOf(modelPath, pipeline.Embedder.Info));
            var failures = new List<string>();
            int enrolled = 0;
            foreach (var file in r.GetValue(images)!)
            {
                IReadOnlyList<FaceEmbedding> faces;
                string sha;
                try
                {
                    faces = Faces(pipeline, file, r.GetValue(aligned), r.GetValue(allFaces));
                    sha = EmbeddingCache.FileKey(file);
                }
                catch (ImageException e) { ReportInput(e); failures.Add(file); continue; }
                var ids = store.Enroll(r.GetValue(name)!, faces.Select(f => new NewFace(f.Embedding, Path.GetFullPath(file), sha,
                    r.GetValue(aligned) ? null : f.Face.Box.ToArray(), pipeline.Detector.Name)).ToList());
                enrolled += ids.Count;
                if (r.GetValue(json))
                    stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["file"] = file, ["name"] = r.GetValue(name)!, ["faces"] = ids.Count, ["ids"] = ids }, Json));
                else
                    stdout.WriteLine($"enrolled {file} ({ids.Count} face{(ids.Count == 1 ? "" : "s")}) as {r.GetValue(name)}");
                stdout.Flush();
            }
            if (failures.Count > 0) stderr.WriteLine($"error: {failures.Count} image(s) not enrolled: {string.Join(", ", failures)}");
            return failures.Count > 0 ? InputError : Ok;
        }));
        return cmd;
    }

    private Command IdentifyCommand()
    {
        var gallery = GalleryOption(); var model = ModelOption(); var detector = DetectorOption(); var aligned = AlignedOption();
        var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var top = new Option<int>("--top", "-k") { Description = "Candidates listed per face", DefaultValueFactory = _ => 3 };
        var threshold = new Option<double?>("--threshold") { Description = "Open-set threshold (default: the model's)" };
        var aggregate = new Option<string>("--aggregate") { Description = "A subject's distance: min (nearest face) or mean (of its faces)", DefaultValueFactory = _ => "min" };
        aggregate.AcceptOnlyFromAmong("min", "mean");
        var images = ImagesArgument();
        var cmd = new Command("identify", "Who is it? Every face of each image against the gallery; unknown above the threshold")
            { gallery, model, detector, aligned, flip, top, threshold, aggregate, threads, json, images };
        cmd.SetAction(r => Guard(() =>
        {
            var modelPath = BundledModels.ResolveEmbedder(r.GetValue(model));
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), r.GetValue(aligned), r.GetValue(threads), null, r.GetValue(threshold), r.GetValue(flip), null);
            using var gal = FaceGallery.Open(r.GetValue(gallery)!, BindingOf(modelPath, pipeline.Embedder.Info), readOnly: true);
            var info = pipeline.Embedder.Info;
            var agg = r.GetValue(aggregate) == "mean" ? Aggregation.Mean : Aggregation.Min;
            bool failed = false;
            foreach (var file in r.GetValue(images)!)
            {
                IReadOnlyList<FaceEmbedding> faces;
                try { faces = Faces(pipeline, file, r.GetValue(aligned), allFaces: true); }
                catch (ImageException e) { ReportInput(e); failed = true; continue; }
                foreach (var f in faces)
                {
                    var id = gal.Identify(f.Embedding, info.Threshold, Math.Max(1, r.GetValue(top)), agg);
                    var box = r.GetValue(aligned) ? null : f.Face.Box.ToArray();
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                        {
                            ["file"] = file, ["face"] = f.Index, ["box"] = box, ["name"] = id.Name, ["known"] = id.Known,
                            ["distance"] = double.IsFinite(id.Distance) ? Math.Round(id.Distance, 6) : null, ["threshold"] = id.Threshold,
                            ["far"] = r.GetValue(threshold) is null ? info.ThresholdFar : null,
                            ["candidates"] = id.Candidates.Select(c => new Dictionary<string, object> { ["name"] = c.Name, ["distance"] = Math.Round(c.Distance, 6) }).ToArray(),
                        }, Json));
                    else
                        stdout.WriteLine($"{file} face {f.Index}{(box is null ? "" : $" [{string.Join(",", box)}]")}: " +
                            (id.Known ? $"{id.Name} (distance {F(id.Distance)})" : $"unknown (nearest {(id.Candidates.Count > 0 ? $"{id.Candidates[0].Name} at {F(id.Distance)}" : "none")})") +
                            $"  threshold {F(id.Threshold)} ({ThresholdSource(info, r.GetValue(threshold))})");
                }
            }
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private Command SubjectsCommand()
    {
        var gallery = GalleryOption(); var json = JsonOption();
        var action = new Argument<string[]>("action") { Arity = ArgumentArity.ZeroOrMore, Description = "list (default) | remove NAME | rename OLD NEW" };
        var cmd = new Command("subjects", "List, remove (erase) or rename the people of a gallery") { gallery, json, action };
        cmd.SetAction(r => Guard(() =>
        {
            var a = r.GetValue(action) ?? [];
            var verb = a.Length == 0 ? "list" : a[0];
            switch (verb)
            {
                case "list" when a.Length <= 1:
                {
                    using var store = GalleryStore.Open(r.GetValue(gallery)!, null, readOnly: true);
                    var subjects = store.Subjects();
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["model"] = store.Model.Id,
                            ["subjects"] = subjects.Select(s => new Dictionary<string, object?> { ["name"] = s.Name, ["faces"] = s.Faces, ["created"] = s.Created.ToString("O") }).ToArray(),
                        }, Json));
                    else
                    {
                        stdout.WriteLine($"{subjects.Count} subject(s), {subjects.Sum(s => s.Faces)} face(s); model {store.Model}");
                        foreach (var s in subjects) stdout.WriteLine($"  {s.Name}  ({s.Faces} face{(s.Faces == 1 ? "" : "s")}, since {s.Created:yyyy-MM-dd})");
                    }
                    return Ok;
                }
                case "remove" when a.Length == 2:
                {
                    using var store = GalleryStore.Open(r.GetValue(gallery)!, null);
                    if (!store.Remove(a[1])) { stderr.WriteLine($"error: {r.GetValue(gallery)}: no subject named '{a[1]}'"); return InputError; }
                    stdout.WriteLine($"removed {a[1]} (rows erased, file vacuumed)");
                    return Ok;
                }
                case "rename" when a.Length == 3:
                {
                    using var store = GalleryStore.Open(r.GetValue(gallery)!, null);
                    if (!store.Rename(a[1], a[2])) { stderr.WriteLine($"error: {r.GetValue(gallery)}: no subject named '{a[1]}'"); return InputError; }
                    stdout.WriteLine($"renamed {a[1]} to {a[2]}");
                    return Ok;
                }
                default:
                    throw new UsageException("subjects: expected list, remove NAME or rename OLD NEW");
            }
        }));
        return cmd;
    }

    private Command ClusterCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var dir = new Argument<string>("folder") { Description = "A folder of photos (searched recursively)" };
        var method = new Option<string>("--method") { Description = "dbscan or whispers (Chinese Whispers)", DefaultValueFactory = _ => "dbscan" };
        method.AcceptOnlyFromAmong("dbscan", "whispers");
        var eps = new Option<double?>("--eps") { Description = "Neighbour distance (default: the model's threshold)" };
        var minSamples = new Option<int>("--min-samples") { Description = "DBSCAN: faces needed to form a cluster", DefaultValueFactory = _ => 2 };
        var copyTo = new Option<string?>("--copy-to") { Description = "Write each cluster's face crops into OUT/cluster_N/ (noise into OUT/noise/)" };
        var cmd = new Command("cluster", "Group the faces of a photo folder into people") { dir, model, detector, flip, method, eps, minSamples, copyTo, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var folder = r.GetValue(dir)!;
            if (!Directory.Exists(folder)) throw new ImageException(folder, "folder not found");
            var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".jpg" or ".jpeg" or ".png" or ".bmp" or ".webp" or ".gif")
                .OrderBy(f => f, StringComparer.Ordinal).ToArray();
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), false, r.GetValue(threads), null, null, r.GetValue(flip), null);
            var faces = new List<(string File, DetectedFace Face, float[] Embedding, RgbImage Crop)>();
            bool failed = false;
            foreach (var file in files)
            {
                RgbImage image;
                try { image = ImageDecoder.Load(file); }
                catch (ImageException e) { ReportInput(e); failed = true; continue; }
                var found = pipeline.Detector.Detect(image);
                if (found.Count == 0) { stderr.WriteLine($"warning: {file}: no face found"); continue; }
                var crops = found.Select(f => pipeline.AlignFace(image, f)).ToList();
                var emb = pipeline.EmbedAligned(crops);
                for (int i = 0; i < found.Count; i++) faces.Add((file, found[i], emb[i], crops[i]));
            }
            var info = pipeline.Embedder.Info;
            double radius = r.GetValue(eps) ?? info.Threshold;
            var vectors = faces.Select(f => f.Embedding).ToList();
            var labels = r.GetValue(method) == "whispers"
                ? Clustering.ChineseWhispers(vectors, radius, info.Metric)
                : Clustering.Dbscan(vectors, radius, Math.Max(1, r.GetValue(minSamples)), info.Metric);
            var clusters = labels.Select((l, i) => (l, i)).Where(p => p.l >= 0).GroupBy(p => p.l)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => g.Select(p => p.i).ToList()).ToList();
            var noise = labels.Select((l, i) => (l, i)).Where(p => p.l < 0).Select(p => p.i).ToList();
            object Face(int i) => new Dictionary<string, object> { ["file"] = faces[i].File, ["box"] = faces[i].Face.Box.ToArray() };
            if (r.GetValue(copyTo) is { } outDir)
            {
                for (int c = 0; c < clusters.Count; c++)
                {
                    var d = Path.Combine(outDir, $"cluster_{c}");
                    Directory.CreateDirectory(d);
                    foreach (var i in clusters[c]) Annotate.Save(faces[i].Crop, [], Path.Combine(d, $"{Path.GetFileNameWithoutExtension(faces[i].File)}_{i}.png"));
                }
                if (noise.Count > 0)
                {
                    var d = Path.Combine(outDir, "noise");
                    Directory.CreateDirectory(d);
                    foreach (var i in noise) Annotate.Save(faces[i].Crop, [], Path.Combine(d, $"{Path.GetFileNameWithoutExtension(faces[i].File)}_{i}.png"));
                }
            }
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["method"] = r.GetValue(method)!, ["eps"] = radius, ["faces"] = faces.Count,
                    ["clusters"] = clusters.Select((c, n) => new Dictionary<string, object> { ["id"] = n, ["faces"] = c.Select(Face).ToArray() }).ToArray(),
                    ["noise"] = noise.Select(Face).ToArray(),
                }, Json));
            else
            {
                stdout.WriteLine($"{faces.Count} face(s) in {files.Length} image(s): {clusters.Count} cluster(s), {noise.Count} unclustered ({r.GetValue(method)}, eps {F(radius)})");
                for (int c = 0; c < clusters.Count; c++)
                    stdout.WriteLine($"  cluster {c}: {clusters[c].Count} face(s): {string.Join(", ", clusters[c].Select(i => Path.GetFileName(faces[i].File)).Distinct().Take(8))}{(clusters[c].Count > 8 ? ", …" : "")}");
            }
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private Command AlignCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var allFaces = AllFacesOption(); var alignment = AlignmentOption(); var threads = ThreadsOption();
        var output = new Option<string>("--output", "-o") { Description = "Folder for the face crops (PNG)", Required = true };
        var images = ImagesArgument();
        var cmd = new Command("align", "Write the face crops the model sees (detection + the model's alignment)") { model, detector, allFaces, alignment, output, threads, images };
        cmd.SetAction(r => Guard(() =>
        {
            using var pipeline = Pipeline(r.GetValue(model), r.GetValue(detector), false, r.GetValue(threads), null, null, false, r.GetValue(alignment));
            var dir = r.GetValue(output)!;
            Directory.CreateDirectory(dir);
            bool failed = false;
            foreach (var file in r.GetValue(images)!)
            {
                try
                {
                    var image = ImageDecoder.Load(file);
                    var faces = pipeline.Detector.Detect(image);
                    if (faces.Count == 0) throw new ImageException(file, "no face found");
                    for (int i = 0; i < (r.GetValue(allFaces) ? faces.Count : 1); i++)
                    {
                        var target = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(file)}_{i}.png");
                        Annotate.Save(pipeline.AlignFace(image, faces[i]), [], target);
                        stdout.WriteLine(target);
                    }
                }
                catch (ImageException e) { ReportInput(e); failed = true; }
            }
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private Command DetectCommand()
    {
        var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption();
        var output = new Option<string?>("--output", "-o") { Description = "Write the image with boxes and landmarks drawn (PNG); with several images, a folder" };
        var images = ImagesArgument();
        var cmd = new Command("detect", "Find faces: boxes, scores and five landmarks") { detector, json, output, threads, images };
        cmd.SetAction(r => Guard(() =>
        {
            using var det = Detectors.Create(r.GetValue(detector), r.GetValue(threads));
            var files = r.GetValue(images)!;
            var outPath = r.GetValue(output);
            bool failed = false;
            foreach (var file in files)
            {
                RgbImage image;
                try { image = ImageDecoder.Load(file); }
                catch (ImageException e) { ReportInput(e); failed = true; continue; }
                var faces = det.Detect(image);
                if (r.GetValue(json))
                    stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["file"] = file,
                        ["faces"] = faces.Select(f => new Dictionary<string, object?>
                        {
                            ["box"] = f.Box.ToArray(),
                            ["score"] = Math.Round(f.Score, 4),
                            ["landmarks"] = f.Landmarks?.Select(p => new[] { Math.Round(p.X, 1), Math.Round(p.Y, 1) }).ToArray(),
                        }).ToArray(),
                    }, Json));
                else
                {
                    stdout.WriteLine($"{file}: {faces.Count} face(s)");
                    foreach (var f in faces) stdout.WriteLine($"  [{string.Join(",", f.Box.ToArray())}] score {f.Score:F3}");
                }
                if (outPath is not null)
                {
                    var target = files.Length == 1 ? outPath : Path.Combine(outPath, Path.GetFileNameWithoutExtension(file) + ".png");
                    if (files.Length > 1) Directory.CreateDirectory(outPath);
                    Annotate.Save(image, faces, target);
                }
                if (faces.Count == 0 && !r.GetValue(json)) { stderr.WriteLine($"error: {file}: no face found"); failed = true; }
            }
            return failed ? InputError : Ok;
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
            ? Directory.EnumerateFiles(i, "*", SearchOption.AllDirectories).Where(f => Path.GetExtension(f).ToLowerInvariant() is ".jpg" or ".jpeg" or ".png" or ".bmp" or ".webp" or ".gif")
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
                pipeline.EmbedAligned([pipeline.AlignFace(image, found[0])]);
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
                ["detector"] = pipeline.Detector.Name, ["model"] = pipeline.Embedder.Info.Name, ["cores"] = Environment.ProcessorCount,
            }, Json));
        else
            stdout.WriteLine($"{files.Length} images ({mp:F2} MP mean), {parallel} in flight: {perSecond:F1} images/s end to end; per image decode {Ms(decodeTicks, files.Length):F1} ms, " +
                $"detect ({pipeline.Detector.Name}) {Ms(detectTicks, files.Length):F1} ms, align+embed ({pipeline.Embedder.Info.Name}) {Ms(embedTicks, faces):F1} ms; {misses} without a face");
        return Ok;
    }

    // ----- helpers -----
    /// <summary>What a threshold stands for: given on the command line, calibrated for a FAR, or the model's default.</summary>
    private static string ThresholdSource(ModelInfo info, double? given)
        => given is not null ? "given with --threshold"
            : info.ThresholdFar is { } far ? $"calibrated for FAR {far:G3}" + (info.Calibration.Length > 0 ? $": {info.Calibration}" : "")
            : $"{info.Name} default";

    private static FacePipeline Pipeline(string? model, string? detector, bool aligned, int threads, string? preprocess, double? threshold, bool flip, string? alignment, int? detectorThreads = null)
    {
        var embedder = FaceEmbedder.Load(BundledModels.ResolveEmbedder(model), new EmbedderOptions { Threads = threads, Preprocess = preprocess, Threshold = threshold });
        try
        {
            IFaceDetector det = aligned ? new NoDetector() : Detectors.Create(detector, detectorThreads ?? threads);
            return new FacePipeline(det, embedder, new PipelineOptions { Flip = flip, Alignment = alignment });
        }
        catch
        {
            embedder.Dispose();
            throw;
        }
    }

    /// <summary>The faces of one image file: the whole image when aligned, else what the detector finds; none is an input error.</summary>
    private static IReadOnlyList<FaceEmbedding> Faces(FacePipeline pipeline, string file, bool aligned, bool allFaces)
    {
        var image = ImageDecoder.Load(file);
        if (aligned)
        {
            var whole = new DetectedFace(new FaceBox(0, 0, image.Width, image.Height), 1, null);
            return [new FaceEmbedding(0, whole, pipeline.EmbedAligned([image])[0])];
        }
        var faces = pipeline.Embed(image, allFaces);
        if (faces.Count == 0) throw new ImageException(file, "no face found");
        return faces;
    }

    /// <summary>Stands in for a detector when images are already face crops.</summary>
    private sealed class NoDetector : IFaceDetector
    {
        public string Name => "none";
        public IReadOnlyList<DetectedFace> Detect(RgbImage image) => [new DetectedFace(new FaceBox(0, 0, image.Width, image.Height), 1, null)];
        public void Dispose() { }
    }

    private int Guard(Func<int> action)
    {
        try { return action(); }
        catch (Exception e) { return Fail(e); }
    }

    private int Fail(Exception e)
    {
        switch (e)
        {
            case GalleryException g: stderr.WriteLine("error: " + g.Message); return g.ModelMismatch ? ModelError : InputError;
            case PairsFileException p: stderr.WriteLine("error: " + p.Message); return InputError;
            case UsageException u: stderr.WriteLine("error: " + u.Message); return Usage;
            case ImageException i: ReportInput(i); return InputError;
            case WeightsException w:
                stderr.WriteLine($"error: {w.File}: {w.Reason}");
                return ModelError;
            case ModelException m: stderr.WriteLine("error: " + m.Message); return ModelError;
            case FormatException f: stderr.WriteLine("error: " + f.Message); return Usage;
            case ArgumentException a: stderr.WriteLine("error: " + a.Message); return Usage;
            case IOException or UnauthorizedAccessException: stderr.WriteLine("error: " + e.Message); return InputError;
            default:
                stderr.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message}");
                return 70;
        }
    }

    private void ReportInput(ImageException e) => stderr.WriteLine($"error: {e.File}: {e.Reason}");

    private static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    private sealed class UsageException(string message) : Exception(message);
}
