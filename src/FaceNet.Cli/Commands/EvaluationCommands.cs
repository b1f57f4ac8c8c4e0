namespace FaceNet.Cli;

// Commands that measure: evaluate, calibrate.
public sealed partial class FaceNetCli
{
    private Command EvaluateCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var pairs = Options.Text("--pairs", "LFW pairs.txt, or a CSV file_x,file_y,same");
        var root = Options.Text("--root", "Folder the pairs' images are relative to (LFW: ROOT/name/name_0001.jpg); with --identification, a folder of "
            + "people (ROOT/person/*.jpg)");
        var identification = Options.Flag("--identification", "Open-set identification (1:N) on a folder of people, as NIST FRVT measures it: FNIR at FPIR "
            + "1 % and 0.1 %, rank-1/5, and the product's threshold rule, per gallery size");
        var open = new IdentificationFlags();
        var folds = Options.Int("--folds", "Folds for a CSV or an LFW View 1 file (LFW View 2 files say their own)", 10, 2, 1000);
        var far = Options.Real("--far", "False-accept rate of the VAL@FAR figure", 1e-3, 0, 1, minOpen: true, maxOpen: true);
        var (cache, noCache) = CacheOptions();
        var fallback = Options.Flag("--fallback-center-crop", "Embed the image centre when no face is found, instead of counting a failure");
        var plot = Options.Text("--plot", "Write the ROC curve and the distance histograms as a PNG");
        var reportPath = Options.Text("--report", "Write a Markdown report: figures, failures, the command that made it");
        var fullDecode = Options.Flag("--full-decode", "Decode every photo in full before detecting (slower): to compare with decoding to the detector's size");
        var liveness = Options.Flag("--liveness", "Liveness (presentation-attack detection) on --live and --attacks photos: APCER, BPCER, ACER, BPCER at "
            + "APCER 5 % and 1 % (ISO/IEC 30107-3); --plot draws the DET curve");
        var (live, attacks) = LivenessFolders();
        var livenessModel = LivenessModelOption(); var livenessThreshold = LivenessThresholdOption();
        var scores = Options.Text("--scores", "--liveness: write each photo's score as CSV (file, label, score, each network's, why not judged)");
        var cmd = new Command("evaluate", "Verification accuracy on labelled pairs with the LFW protocol: accuracy ± std, VAL@FAR, AUC, EER, threshold; "
            + "or liveness error rates (--liveness)")
            { pairs, root, identification, open.Sizes, open.Strangers, open.Fpir, open.MinQuality, open.ModelTailOnly, model, detector, flip, alignment, folds,
                far, cache, noCache, fallback, fullDecode, plot, reportPath, liveness, live, attacks, livenessModel, livenessThreshold, scores, json, threads };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(liveness))
                return EvaluateLiveness(LivenessPhotos(r.GetValue(live), r.GetValue(attacks), LivenessChecker(r.GetValue(detector), r.GetValue(threads),
                    r.GetValue(livenessModel), r.GetValue(livenessThreshold))), r.GetValue(plot), r.GetValue(scores), r.GetValue(json));
            if (r.GetValue(live) is not null || r.GetValue(attacks) is not null) throw new UsageException("--live and --attacks go with --liveness");
            if (r.GetValue(root) is null) throw new UsageException("evaluate: give --root (with --pairs or --identification), or --liveness");
            var settings = new EvaluateSettings(r.GetValue(pairs), r.GetValue(root)!, r.GetValue(folds), r.GetValue(far),
                // images are decoded and detected in parallel (one per core), so each detector call gets one thread
                new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector), Threads = r.GetValue(threads), DetectorThreads = 1, Flip = r.GetValue(flip),
                    AlignmentDetail = r.GetValue(fullDecode) ? 0 : FaceRecognizer.DefaultAlignmentDetail, Alignment = r.GetValue(alignment) },
                CacheFolder(r, (cache, noCache)), r.GetValue(fallback), r.GetValue(fullDecode), r.GetValue(plot), r.GetValue(reportPath), r.GetValue(json));
            if (!r.GetValue(identification)) return EvaluatePairs(settings);
            if (settings.Pairs is not null) throw new UsageException("--identification takes a folder of people (--root), not --pairs");
            return EvaluateIdentification(settings, open.Read(r));
        }));
        return cmd;
    }

    /// <summary>evaluate --identification's own options, and the library's options they make.</summary>
    private sealed class IdentificationFlags
    {
        public readonly Option<string?> Sizes = Options.Text("--gallery-sizes", "--identification: gallery sizes, comma-separated (default "
            + "100,1000,3000 and as many as the people allow)");
        public readonly Option<int> Strangers = Options.Int("--strangers", "--identification: searches by people not enrolled, per gallery size", 1000,
            1, 1_000_000);
        public readonly Option<double?> Fpir = Options.Real("--fpir", "--identification: the target FPIR of the product's rule (default "
            + $"{OpenSetThreshold.DefaultFpir})", 0, 1, minOpen: true, maxOpen: true);
        public readonly Option<double?> MinQuality = Options.Real("--min-quality", "--identification: enrol each person's first photo of at least "
            + $"this quality, as enroll's gate does (default {FaceQuality.DefaultFloor}); a person with none is refused and their searches count as "
            + "misses (0: the first photo)", 0, 1);
        public readonly Option<bool> ModelTailOnly = Options.Flag("--model-tail-only", "--identification: the rule reads the model's impostor tail "
            + "alone, not also the gallery's own people");

        public IdentificationOptions Read(ParseResult r) => new()
        {
            GallerySizes = GallerySizes(r.GetValue(Sizes)), Strangers = r.GetValue(Strangers), Fpir = r.GetValue(Fpir) ?? OpenSetThreshold.DefaultFpir,
            QualityFloor = r.GetValue(MinQuality) ?? FaceQuality.DefaultFloor, UseGalleryPeople = !r.GetValue(ModelTailOnly),
        };
    }

    private static List<int> GallerySizes(string? list) => [.. (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(t => int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
            : throw new UsageException($"--gallery-sizes: '{t}' is not a positive whole number"))];

    /// <summary>The recognizer options of a liveness evaluation or calibration: a detector and the liveness networks, no embedding model.</summary>
    private static FaceRecognizerOptions LivenessChecker(DetectorKind? detector, int threads, string? livenessModel, double? threshold = null) => new()
    {
        Detector = detector, Threads = threads, DetectorThreads = 1, LivenessModel = livenessModel, LivenessThreshold = threshold,
    };

    /// <summary>The embedding cache's options: where it is, and a switch that leaves it alone.</summary>
    private static (Option<string?> Cache, Option<bool> NoCache) CacheOptions() =>
        (Options.Text("--cache", $"Embedding cache folder (default {EmbeddingCache.DefaultDirectory})"), Options.Flag("--no-cache", "Do not read or write the embedding cache"));

    /// <summary>The cache folder asked for: none with --no-cache, else the given one or the default.</summary>
    private static string? CacheFolder(ParseResult r, (Option<string?> Cache, Option<bool> NoCache) o) =>
        r.GetValue(o.NoCache) ? null : r.GetValue(o.Cache) ?? EmbeddingCache.DefaultDirectory;

    /// <summary>What <c>evaluate</c> was asked, bound once from its command line.</summary>
    private sealed record EvaluateSettings(string? Pairs, string Root, int Folds, double FarTarget, FaceRecognizerOptions Recognizer, string? CacheDirectory,
        bool FallbackCenterCrop, bool FullDecode, string? PlotPath, string? ReportPath, bool Json);

    /// <summary>A figure rounded for JSON, or null where it cannot be measured (a band without different pairs has no FAR).</summary>
    private static double? Finite(double v) => double.IsFinite(v) ? Math.Round(v, 5) : null;

    private int EvaluatePairs(EvaluateSettings s)
    {
        var list = PairsFile.Read(s.Pairs ?? throw new UsageException("evaluate: give --pairs (or --identification with a folder of people)"), s.Root, s.Folds);
        using var pipeline = Pipeline(s.Recognizer);
        var modelPath = pipeline.Model.Path;
        var key = EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name + (s.FullDecode ? "|full-decode" : ""), s.FallbackCenterCrop);
        bool showProgress = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        var evaluator = new Evaluator(pipeline, key, new EvaluationOptions
        {
            FarTarget = s.FarTarget,
            CacheDirectory = s.CacheDirectory,
            FallbackCenterCrop = s.FallbackCenterCrop,
            Progress = showProgress ? (done, total) => stderr.Write($"\rembedding {done}/{total} images") : null,
        });
        var report = evaluator.Run(list);
        if (showProgress) stderr.WriteLine();
        foreach (var f in report.Failures) stderr.WriteLine("warning: " + f);
        var res = report.Result;
        var info = pipeline.Model.Info;
        // each pair at the model's threshold for its pose difference (the model's one threshold when it has no pose bands)
        var thresholds = PoseBands.Thresholds(report, info);
        var (atModel, farAtModel, frrAtModel) = PoseBands.At(report.Distances, report.Same, thresholds);
        var rates = (Far: farAtModel, Frr: frrAtModel);
        var bands = PoseBands.Breakdown(report, thresholds);
        var title = $"{Path.GetFileName(s.Pairs)}: {info.Name} + {pipeline.Detector.Name}, {res.Pairs} pairs, {res.Folds} folds";
        if (s.Json)
            stdout.WriteLine(JsonSerializer.Serialize(PairsJson(report, info, pipeline.Detector.Name, modelPath, (atModel, rates.Far, rates.Frr), bands), Json));
        else WritePairs(report, list.Count(p => p.Same), info, pipeline.Detector.Name, modelPath, atModel, rates, bands);
        // the figures are out before any file is written: a bad --plot path loses nothing
        if (s.PlotPath is { } plotPath) RocPlot.Save(report, plotPath, title);
        if (s.ReportPath is { } mdPath)
            AtomicFile.Write(mdPath, EvaluationMarkdown.Render(report, title, "facenet "
                + string.Join(' ', _args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)), info.Threshold, atModel, s.PlotPath));
        return Ok;
    }

    /// <summary>evaluate --pairs as text: the figures, at the best threshold and at the model's, per pose band, and what failed.</summary>
    private void WritePairs(EvaluationReport report, int same, ModelInfo info, string detector, string modelPath, double atModel,
        (double Far, double Frr) rates, IReadOnlyList<PoseBandResult> bands)
    {
        var res = report.Result;
        stdout.WriteLine($"pairs {res.Pairs} ({same} same), folds {res.Folds}, images {report.Images}, model "
            + $"{Path.GetFileName(modelPath)}, detector {detector}");
        stdout.WriteLine($"accuracy      {res.Accuracy:F4} ± {res.AccuracyStd:F4}");
        stdout.WriteLine($"VAL@FAR={res.FarTarget:G3}  {res.Val:F4} ± {res.ValStd:F4}  (FAR reached {res.Far:F5})");
        stdout.WriteLine($"AUC           {res.Auc:F4}");
        stdout.WriteLine($"EER           {res.Eer:F4}");
        stdout.WriteLine($"threshold     {res.Threshold:F4} ({report.Metric.Name()}, best on all pairs); at the model's {info.Threshold:F4}: accuracy "
            + $"{atModel:F4}, FAR {rates.Far:F4}, FRR {rates.Frr:F4}");
        foreach (var b in bands)
            stdout.WriteLine(FormattableString.Invariant(
                $"pose {b.Band,-8} {b.SamePairs,5} same {b.DifferentPairs,5} different: accuracy {b.Accuracy:F4}, FAR {b.Far:F4}, FRR {b.Frr:F4} at {b.Threshold:F4}"));
        stdout.WriteLine($"failures      {report.FacelessImages} image(s) without a face, {report.UnreadableImages} unreadable, {report.FailedPairs} "
            + $"pair(s) counted as non-matches{(report.CenterCropped > 0 ? $"; {report.CenterCropped} centre-cropped" : "")}");
        stdout.WriteLine($"time          {report.Seconds:F1} s");
    }

    /// <summary>evaluate --pairs --json: the figures, at the best threshold and at the model's, and per pose band.</summary>
    private static Dictionary<string, object> PairsJson(EvaluationReport report, ModelInfo info, string detector, string modelPath,
        (double Accuracy, double Far, double Frr) atModel, IReadOnlyList<PoseBandResult> bands)
    {
        var res = report.Result;
        return new Dictionary<string, object>
        {
            ["accuracy"] = Math.Round(res.Accuracy, 5), ["accuracy_std"] = Math.Round(res.AccuracyStd, 5),
            ["val"] = Math.Round(res.Val, 5), ["val_std"] = Math.Round(res.ValStd, 5), ["far"] = Math.Round(res.Far, 6), ["far_target"] = res.FarTarget,
            ["auc"] = Math.Round(res.Auc, 5), ["eer"] = Math.Round(res.Eer, 5), ["threshold"] = Math.Round(res.Threshold, 5),
            ["model_threshold"] = info.Threshold, ["accuracy_at_model_threshold"] = Math.Round(atModel.Accuracy, 5),
            ["far_at_model_threshold"] = Math.Round(atModel.Far, 5), ["frr_at_model_threshold"] = Math.Round(atModel.Frr, 5),
            ["metric"] = report.Metric.Name(), ["pairs"] = res.Pairs, ["folds"] = res.Folds, ["images"] = report.Images,
            ["failed_images"] = report.FailedImages, ["faceless_images"] = report.FacelessImages, ["unreadable_images"] = report.UnreadableImages, ["failed_pairs"] = report.FailedPairs, ["center_cropped"] = report.CenterCropped,
            ["seconds"] = Math.Round(report.Seconds, 2), ["model"] = modelPath, ["detector"] = detector,
            ["pose_bands"] = bands.Select(b => new Dictionary<string, object?>
            {
                ["band"] = b.Band, ["same_pairs"] = b.SamePairs, ["different_pairs"] = b.DifferentPairs, ["accuracy"] = Finite(b.Accuracy),
                ["far"] = Finite(b.Far), ["frr"] = Finite(b.Frr), ["threshold"] = Finite(b.Threshold),
            }).ToArray(),
        };
    }

    private int EvaluateIdentification(EvaluateSettings s, IdentificationOptions options)
    {
        string root = s.Root;
        string? plotPath = s.PlotPath, reportPath = s.ReportPath;
        bool json = s.Json;
        var people = Calibration.People(root);
        using var pipeline = Pipeline(s.Recognizer with { AlignmentDetail = FaceRecognizer.DefaultAlignmentDetail });
        var key = EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name, false);
        bool showProgress = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        var evaluator = new Evaluator(pipeline, key, new EvaluationOptions
        {
            CacheDirectory = s.CacheDirectory, Progress = showProgress ? (done, total) => stderr.Write($"\rembedding {done}/{total} images") : null,
        });
        var embedded = evaluator.Embed(people.SelectMany(p => p.Files).ToList());
        if (showProgress) stderr.WriteLine();
        foreach (var f in embedded.Failures) stderr.WriteLine("warning: " + f);
        var faces = people.SelectMany((p, i) => p.Files.Where(f => embedded.Vectors[f] is not null)
            .Select(f => new LabeledFace(i, f, embedded.Vectors[f]!, embedded.Quality.GetValueOrDefault(f, double.NaN))
                { Yaw = embedded.Poses.TryGetValue(f, out var pose) ? pose.Yaw : null })).ToList();
        var info = pipeline.Model.Info;
        var results = IdentificationProtocol.Run(faces, info, options);
        WriteIdentification(results, people.Count, faces.Count, info, pipeline.Detector.Name, options.QualityFloor, json);
        var title = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(root))}: {info.Name} + {pipeline.Detector.Name}";
        if (plotPath is not null) RocPlot.SaveDet(plotPath, "DET — " + title, results);
        if (reportPath is not null)
            AtomicFile.Write(reportPath, EvaluationMarkdown.RenderIdentification(results, title, "facenet "
                + string.Join(' ', _args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)), plotPath));
        return Ok;
    }

    /// <summary>evaluate --identification's figures per gallery size: a JSON object each, or a table.</summary>
    private void WriteIdentification(IReadOnlyList<IdentificationResult> results, int people, int faces, ModelInfo info, string detector,
        double qualityFloor, bool json)
    {
        string Pc(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
        if (json)
            foreach (var x in results)
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["gallery_size"] = x.GallerySize, ["draws"] = x.Draws, ["mated_searches"] = x.MatedSearches, ["non_mated_searches"] = x.NonMatedSearches,
                    ["rank1"] = Math.Round(x.Rank1, 5), ["rank5"] = Math.Round(x.Rank5, 5),
                    ["fnir_at_fpir_0.01"] = Math.Round(x.AtFpir1.Fnir, 5), ["threshold_at_fpir_0.01"] = Math.Round(x.AtFpir1.Threshold, 5),
                    ["fnir_at_fpir_0.001"] = Math.Round(x.AtFpir01.Fnir, 5), ["threshold_at_fpir_0.001"] = Math.Round(x.AtFpir01.Threshold, 5),
                    ["rule_threshold"] = Math.Round(x.AtRule.Threshold,
                        5), ["rule"] = x.Rule.Rule.ToString().ToLowerInvariant(), ["rule_target_fpir"] = x.Rule.Fpir,
                    ["fpir"] = Math.Round(x.AtRule.Fpir, 5), ["fnir"] = Math.Round(x.AtRule.Fnir, 5),
                    ["quality_floor"] = qualityFloor, ["people"] = people, ["faces"] = faces, ["model"] = info.Name, ["detector"] = detector,
                }, Json));
        else
        {
            stdout.WriteLine($"{people} people, {faces} faces; model {info.Name}, detector "
                + $"{detector}{(qualityFloor > 0 ? $", enrolment quality ≥ {qualityFloor:G2}" : "")}");
            stdout.WriteLine("gallery   mated  strangers  rank-1  rank-5  FNIR@FPIR1%  FNIR@FPIR0.1%  | rule: threshold  FPIR    FNIR");
            foreach (var x in results)
                stdout.WriteLine($"{x.GallerySize,7}  {x.MatedSearches,6}  {x.NonMatedSearches,9}  {Pc(x.Rank1)}  {Pc(x.Rank5)}  {Pc(x.AtFpir1.Fnir),11}  "
                    + $"{Pc(x.AtFpir01.Fnir),13}  | {Pc(x.AtRule.Threshold),15}  {Pc(x.AtRule.Fpir)}  {Pc(x.AtRule.Fnir)}");
            stdout.WriteLine(results.Count > 0 ? $"rule: {results[^1].Rule.Describe()} at the largest gallery" : "no gallery size could be formed");
        }
    }

    private Command CalibrateCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var root = Options.Text("--root", "A folder of identities (ROOT/person/*.jpg), or the folder a --pairs file is relative to");
        var liveness = Options.Flag("--liveness", "The liveness threshold for a target --apcer (or --bpcer) on --live and --attacks photos; -o writes a "
            + "copy of the liveness networks (a folder) carrying it");
        var (live, attacks) = LivenessFolders();
        var livenessModel = LivenessModelOption();
        var apcer = Options.Real("--apcer", "--liveness: the target share of attacks accepted as live (e.g. 0.05)", 0, 1, maxOpen: true);
        var bpcer = Options.Real("--bpcer", "--liveness: the target share of live faces refused instead (needs no attack photos)", 0, 1, maxOpen: true);
        var pairs = Options.Text("--pairs", "Labelled pairs (LFW pairs.txt or CSV) instead of identity folders");
        var far = Options.Real("--far", "Target false-accept rate (default 1e-3)", 0, 1, minOpen: true, maxOpen: true);
        var frr = Options.Real("--frr", "Target false-reject rate instead of a FAR", 0, 1, minOpen: true, maxOpen: true);
        var bestAccuracy = Options.Flag("--best-accuracy", "The accuracy-maximising threshold instead of a target rate (the bundled models' rule)");
        var keepThreshold = Options.Flag("--keep-threshold", "Keep the model's 1:1 threshold (its rates here are reported); write only the impostor tail "
            + "into the copy");
        var output = Options.Text("--output", "Write a copy of the model with the calibrated threshold and impostor tail (.onnx; a fused model's .json)", "-o");
        var tailFrom = Options.Text("--tail-from", "A folder of identities whose different-person pairs make the impostor tail that identification chooses "
            + "thresholds from (default: --root when it is a folder of identities)");
        var poseFrom = Options.Text("--pose-from", "Folders of identities, comma-separated (each its own people), whose different-person pairs set a "
            + "threshold per band of pose difference (0–15°, 15–45°, 45°+ of yaw) for the false-accept rate of the 1:1 threshold");
        var (cache, noCache) = CacheOptions();
        var cmd = new Command("calibrate", "The distance threshold for a target false-accept (or false-reject) rate on your own labelled faces; "
            + "or the liveness threshold for a target APCER (--liveness)")
            { root, pairs, far, frr, bestAccuracy, keepThreshold, tailFrom, poseFrom, model, detector, flip, alignment, output, cache, noCache,
                liveness, live, attacks, livenessModel, apcer, bpcer, json, threads };
        cmd.SetAction(r => Guard(() =>
        {
            if (r.GetValue(liveness))
                return CalibrateLiveness(LivenessPhotos(r.GetValue(live), r.GetValue(attacks), LivenessChecker(r.GetValue(detector), r.GetValue(threads),
                    r.GetValue(livenessModel))), r.GetValue(apcer), r.GetValue(bpcer), r.GetValue(output), r.GetValue(json));
            if (r.GetValue(live) is not null || r.GetValue(attacks) is not null || r.GetValue(apcer) is not null || r.GetValue(bpcer) is not null)
                throw new UsageException("--live, --attacks, --apcer and --bpcer go with --liveness");
            if (r.GetValue(root) is null) throw new UsageException("calibrate: give --root (a folder of identities, or with --pairs), or --liveness");
            var request = new CalibrationRequest(r.GetValue(root)!)
            {
                Pairs = r.GetValue(pairs), Goal = GoalOf(r.GetValue(far), r.GetValue(frr), r.GetValue(bestAccuracy), r.GetValue(keepThreshold)),
                Rate = r.GetValue(frr) ?? r.GetValue(far) ?? 1e-3, TailFrom = r.GetValue(tailFrom), CacheDirectory = CacheFolder(r, (cache, noCache)),
                PoseFrom = r.GetValue(poseFrom)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            };
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector), Threads = r.GetValue(threads),
                DetectorThreads = 1, Flip = r.GetValue(flip), Alignment = r.GetValue(alignment) });
            if (r.GetValue(output) is { } target) Calibrator.CheckModelPath(pipeline, target);
            var done = Calibrator.Run(pipeline, request, m => stderr.WriteLine("note: " + m));
            if (r.GetValue(output) is { } path) Calibrator.SaveModel(pipeline, done, path);
            ReportCalibration(done, pipeline.Model.Info, r.GetValue(output), r.GetValue(json));
            return Ok;
        }));
        return cmd;
    }

    /// <summary>What calibrate aims at: one of a FAR (the default), an FRR, the best accuracy, or the model's threshold kept.</summary>
    private static CalibrationGoal GoalOf(double? far, double? frr, bool bestAccuracy, bool keepThreshold)
    {
        if (new[] { far is not null, frr is not null, bestAccuracy, keepThreshold }.Count(x => x) > 1)
            throw new UsageException("give one of --far, --frr, --best-accuracy and --keep-threshold");
        return keepThreshold ? CalibrationGoal.KeepThreshold : bestAccuracy ? CalibrationGoal.BestAccuracy : frr is not null ? CalibrationGoal.Frr : CalibrationGoal.Far;
    }

    private void ReportCalibration(ThresholdCalibration done, ModelInfo info, string? output, bool json)
    {
        foreach (var f in done.Report.Failures) stderr.WriteLine("warning: " + f);
        var (result, tail, poseThresholds, rate) = (done.Result, done.Tail, done.PoseThresholds, done.Request.Rate);
        bool best = done.Request.Goal == CalibrationGoal.BestAccuracy;
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["threshold"] = Math.Round(result.Threshold,
                    6), ["target"] = result.Target, ["target_rate"] = best ? null : rate, ["accuracy"] = best ? Math.Round(result.TargetRate, 6) : null, ["metric"] = info.Metric.Name(),
                ["far"] = Math.Round(result.Far, 6), ["far_ci95"] = new[] { Math.Round(result.FarLow, 6), Math.Round(result.FarHigh, 6) },
                ["frr"] = Math.Round(result.Frr, 6), ["frr_ci95"] = new[] { Math.Round(result.FrrLow, 6), Math.Round(result.FrrHigh, 6) },
                ["genuine_pairs"] = result.GenuinePairs, ["impostor_pairs"] = result.ImpostorPairs, ["sufficient"] = result.Sufficient,
                ["failed_images"] = done.Report.FailedImages, ["model_threshold"] = info.Threshold, ["output"] = output,
                ["impostor_tail"] = tail?.ToNode(), ["pose_thresholds"] = poseThresholds?.ToNode(),
            }, Json));
        else
        {
            stdout.WriteLine($"threshold {result.Threshold:F4} ({info.Metric.Name()}) for "
                + $"{done.Goal}{(best ? $" (accuracy {result.TargetRate:F4})" : "")}, on {result.GenuinePairs} same and {result.ImpostorPairs} different "
                + $"pairs");
            stdout.WriteLine($"  FAR {result.Far:F5}  (95% CI {result.FarLow:F5} – {result.FarHigh:F5})");
            stdout.WriteLine($"  FRR {result.Frr:F5}  (95% CI {result.FrrLow:F5} – {result.FrrHigh:F5})");
            stdout.WriteLine($"  the model's own threshold is {info.Threshold:F4}{(output is { } o ? $"; wrote {o}" : "")}");
            if (!result.Sufficient)
                stdout.WriteLine($"  warning: {result.ImpostorPairs} different pairs cannot show a FAR of {rate:G3} (need at least "
                    + $"{Math.Ceiling(3 / rate)}); the upper bound above is what the data supports");
            if (poseThresholds is not null)
                for (int b = 0; b < poseThresholds.Bands.Count; b++)
                {
                    var band = poseThresholds.Bands[b];
                    stdout.WriteLine(FormattableString.Invariant(
                        $"pose band {poseThresholds.BandName(b),-8} threshold {band.Threshold:F4} (FAR {band.Far:G3} on {band.Pairs:N0} different-person pairs)"));
                }
            if (tail is not null)
            {
                stdout.WriteLine($"impostor tail ({tail.Pairs:N0} different-person pairs of {done.TailRoot}), the thresholds identification chooses from:");
                foreach (var p in tail.Points) stdout.WriteLine($"  FAR {p.Far,-7:G2} threshold {p.Threshold:F4}  ({p.Pairs:N0} pairs at or below)");
            }
        }
    }
}
