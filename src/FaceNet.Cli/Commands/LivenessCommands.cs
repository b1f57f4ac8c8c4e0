namespace FaceNet.Cli;

// Liveness: the liveness command, the --liveness options of compare/enroll/identify, evaluate and calibrate --liveness, bench liveness.
public sealed partial class FaceNetCli
{
    /// <summary>The liveness options a command that checks faces takes; <see cref="Apply"/> puts them into the recognizer's options.</summary>
    private sealed class LivenessOptions
    {
        public Option<bool> Require { get; } = new("--liveness")
        {
            Description = "Refuse faces that are presentation attacks (a photo or a screen held up to the camera), and faces too small, blurred or cut off "
                + "to judge: an error line and exit code 2, as a missing face",
        };
        public Option<string?> Unjudged { get; } = new("--liveness-unjudged")
        {
            Description = "With --liveness: refuse (default) or allow faces whose liveness cannot be judged",
        };
        public Option<string?> Model { get; } = LivenessModelOption();
        public Option<double?> Threshold { get; } = LivenessThresholdOption();

        public LivenessOptions() => Unjudged.AcceptOnlyFromAmong("refuse", "allow");

        public void AddTo(Command cmd)
        {
            cmd.Options.Add(Require);
            cmd.Options.Add(Unjudged);
            cmd.Options.Add(Model);
            cmd.Options.Add(Threshold);
        }

        /// <summary>The recognizer's options with the liveness settings asked for; an option without --liveness is a usage error.</summary>
        public FaceRecognizerOptions Apply(ParseResult r, FaceRecognizerOptions options, bool aligned = false)
        {
            bool require = r.GetValue(Require);
            if (!require && r.GetValue(Unjudged) is not null) throw new UsageException("--liveness-unjudged goes with --liveness");
            if (require && aligned) throw new UsageException("--liveness judges the photo around the face: it does not go with --aligned");
            return options with
            {
                RequireLive = require, LivenessUnjudged = r.GetValue(Unjudged) == "allow" ? UnjudgedFaces.Allow : UnjudgedFaces.Refuse,
                LivenessModel = r.GetValue(Model), LivenessThreshold = r.GetValue(Threshold),
            };
        }
    }

    private static (Option<string?> Live, Option<string?> Attacks) LivenessFolders() => (
        new("--live") { Description = "--liveness: a folder of photos of live people (bona fide presentations)" },
        new("--attacks") { Description = "--liveness: a folder of photos of attacks (prints, screens held up to the camera)" });

    private static Option<string?> LivenessModelOption() => new("--liveness-model")
    {
        Description = "The liveness networks: a folder of liveness .onnx files, or one (default: the bundled MiniFASNet pair)",
    };

    private static Option<double?> LivenessThresholdOption() => Options.Real("--liveness-threshold",
        "Liveness threshold on the mean live probability of the networks (default: the pair's own)", 0, 1);

    private Command LivenessCommand()
    {
        var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption();
        var model = LivenessModelOption(); var threshold = LivenessThresholdOption();
        var images = ImagesArgument();
        var cmd = new Command("liveness", "Is each face live, or a photo or a screen held up to the camera? One line per face (passive check on one photo)")
            { detector, model, threshold, json, threads, images };
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "liveness");
            using var pipeline = Pipeline(new FaceRecognizerOptions
            {
                Detector = r.GetValue(detector), Threads = r.GetValue(threads), LivenessModel = r.GetValue(model), LivenessThreshold = r.GetValue(threshold),
            });
            _ = pipeline.Liveness; // a bad liveness model is a model error before any photo is read
            bool failed = EachImage(files, r.GetValue(json), file =>
            {
                PrintLiveness(file, pipeline.CheckLiveness(file), r.GetValue(json));
                return true;
            });
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    /// <summary>One line per face of a photo; a photo without a face is an input error.</summary>
    private void PrintLiveness(string file, IReadOnlyList<LivenessResult> faces, bool json)
    {
        if (faces.Count == 0) throw new NoFaceException(file);
        for (int i = 0; i < faces.Count; i++)
            stdout.WriteLine(json ? JsonLine(LivenessJson.Of(faces[i]), ("file", file), ("face", i))
                : $"{file} face {i} [{string.Join(",", faces[i].Box.ToArray())}]: {faces[i].Describe()}");
    }

    /// <summary><c>evaluate --liveness</c>: APCER, BPCER, ACER, BPCER at APCER 5 % and 1 %, a DET plot.</summary>
    private int EvaluateLiveness(LivenessRun run, string? plotPath, string? scoresPath, bool json)
    {
        using var pipeline = Pipeline(run.Recognizer);
        var report = LivenessEvaluation.Evaluate(pipeline, run.Live, run.Attacks, progress: Progress("judging"));
        EndProgress();
        foreach (var f in report.Failures) stderr.WriteLine("warning: " + f);
        var at = report.AtThreshold;
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["apcer"] = R(at.Apcer), ["bpcer"] = R(at.Bpcer), ["acer"] = R(at.Acer), ["threshold"] = at.Threshold,
                ["bpcer_at_apcer_0.05"] = R(report.AtApcer5?.Bpcer), ["threshold_at_apcer_0.05"] = report.AtApcer5?.Threshold,
                ["bpcer_at_apcer_0.01"] = R(report.AtApcer1?.Bpcer), ["threshold_at_apcer_0.01"] = report.AtApcer1?.Threshold,
                ["attacks"] = at.Attacks, ["bona_fide"] = at.BonaFide, ["attacks_accepted"] = at.AttacksAccepted, ["bona_fide_refused"] = at.BonaFideRefused,
                ["attacks_unjudged"] = at.AttacksUnjudged, ["bona_fide_unjudged"] = at.BonaFideUnjudged, ["accuracy"] = R(at.Accuracy),
                ["no_face_attacks"] = report.NoFaceAttacks, ["no_face_bona_fide"] = report.NoFaceLive, ["unreadable"] = report.Failures.Count,
                ["threshold_source"] = pipeline.Liveness.DescribeThreshold(), ["detector"] = pipeline.Detector.Name, ["seconds"] = Math.Round(report.Seconds, 2),
            }, Json));
        else
        {
            stdout.WriteLine($"{at.BonaFide} live faces, {at.Attacks} attacks; detector {pipeline.Detector.Name}; liveness threshold {at.Threshold:F4} "
                + $"({pipeline.Liveness.DescribeThreshold()})");
            stdout.WriteLine($"APCER  {Pct(at.Apcer)}  ({at.AttacksAccepted} of {at.Attacks} attacks accepted as live; {at.AttacksUnjudged} not judged, "
                + $"counted as stopped)");
            stdout.WriteLine($"BPCER  {Pct(at.Bpcer)}  ({at.BonaFideRefused} of {at.BonaFide} live faces refused; {at.BonaFideUnjudged} of them not judged)");
            stdout.WriteLine($"ACER   {Pct(at.Acer)}   accuracy {Pct(at.Accuracy)}");
            foreach (var (name, x) in new[] { ("5 %", report.AtApcer5), ("1 %", report.AtApcer1) })
                stdout.WriteLine(x is null ? $"BPCER at APCER {name}: no attacks" : $"BPCER at APCER {name}: {Pct(x.Bpcer)} (threshold {x.Threshold:F4}, "
                    + $"APCER there {Pct(x.Apcer)})");
            stdout.WriteLine($"no face found in {report.NoFaceLive} live and {report.NoFaceAttacks} attack photo(s) (left out of the rates); "
                + $"{report.Failures.Count} unreadable; {report.Seconds:F1} s");
        }
        if (scoresPath is not null) AtomicFile.Write(scoresPath, System.Text.Encoding.UTF8.GetBytes(LivenessEvaluation.Csv(report.Samples)));
        if (plotPath is not null) RocPlot.SaveLivenessDet(plotPath, $"Liveness DET — {pipeline.Liveness.Name} + {pipeline.Detector.Name}", report);
        return Ok;
    }

    /// <summary><c>calibrate --liveness</c>: the threshold for a target APCER (or BPCER), written into a copy of the pair.</summary>
    private int CalibrateLiveness(LivenessRun run, double? apcer, double? bpcer, string? output, bool json)
    {
        if ((apcer is null) == (bpcer is null)) throw new UsageException("calibrate --liveness: give --apcer or --bpcer");
        using var pipeline = Pipeline(run.Recognizer);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var samples = LivenessEvaluation.Score(pipeline, run.Live, run.Attacks, failures, Progress("judging"));
        EndProgress();
        foreach (var f in failures.Order(StringComparer.Ordinal)) stderr.WriteLine("warning: " + f);
        var x = apcer is { } a ? LivenessEvaluation.AtApcer(samples, a) : LivenessEvaluation.AtBpcer(samples, bpcer!.Value);
        if (x is null) throw new UsageException(apcer is not null ? "calibrate --liveness --apcer needs attack photos with faces (--attacks)"
            : "calibrate --liveness --bpcer: no live faces, or more live faces that cannot be judged than the target allows");
        var goal = apcer is not null ? $"APCER {apcer:G3}" : $"BPCER {bpcer:G3}";
        var note = $"calibrated for {goal} on {x.BonaFide} live faces and {x.Attacks} attacks ({pipeline.Detector.Name}, {DateTime.UtcNow:yyyy-MM-dd})";
        var written = output is null ? [] : pipeline.Liveness.SaveWithThreshold(output, x.Threshold, x.Attacks > 0 ? x.Apcer : null, x.BonaFide > 0 ? x.Bpcer : null, note);
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["threshold"] = x.Threshold, ["target"] = apcer is not null ? "apcer" : "bpcer", ["target_rate"] = apcer ?? bpcer,
                ["apcer"] = R(x.Apcer), ["bpcer"] = R(x.Bpcer), ["attacks"] = x.Attacks, ["bona_fide"] = x.BonaFide,
                ["model_threshold"] = pipeline.Liveness.Threshold, ["output"] = written,
            }, Json));
        else
        {
            stdout.WriteLine($"liveness threshold {x.Threshold:F4} for {goal}, on {x.BonaFide} live faces and {x.Attacks} attacks: APCER {Pct(x.Apcer)}, "
                + $"BPCER {Pct(x.Bpcer)}");
            stdout.WriteLine($"  the pair's own threshold is "
                + $"{pipeline.Liveness.Threshold:F4}{(written.Count > 0 ? $"; wrote {string.Join(", ", written)}" : "")}");
            if (apcer is { } target && x.Attacks < 3 / target)
                stdout.WriteLine($"  warning: {x.Attacks} attacks cannot show an APCER of {target:G3} (need at least {Math.Ceiling(3 / target)})");
        }
        return Ok;
    }

    /// <summary>What evaluate/calibrate --liveness judge: the photos of the two folders, with the recognizer's options.</summary>
    private sealed record LivenessRun(IReadOnlyList<string> Live, IReadOnlyList<string> Attacks, FaceRecognizerOptions Recognizer);

    /// <summary>The run asked for; --live or --attacks may be missing (calibrating a BPCER on live faces alone), not both.</summary>
    private static LivenessRun LivenessPhotos(string? live, string? attacks, FaceRecognizerOptions recognizer)
    {
        if (live is null && attacks is null) throw new UsageException("--liveness: give --live DIR and/or --attacks DIR");
        return new LivenessRun(live is null ? [] : LivenessEvaluation.Photos(live), attacks is null ? [] : LivenessEvaluation.Photos(attacks), recognizer);
    }

    private Command BenchLivenessCommand()
    {
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption(); var model = LivenessModelOption();
        var batch = new Option<int[]>("--batch") { Description = "Faces per batch (default: 1 and 16)", AllowMultipleArgumentsPerToken = true }.Within(1, 4096);
        var seconds = Options.Real("--seconds", "Time spent on each batch size", 5, 0, 3600);
        var photos = Options.Images("photos", "Photos whose subjects are timed (default: a synthetic 640x480 frame)", ArgumentArity.ZeroOrMore);
        var cmd = new Command("liveness", "The liveness check per face: both networks on their two patches, ms per face, batch 1 and batched")
            { model, batch, seconds, detector, threads, json, photos };
        cmd.SetAction(r => Guard(() =>
        {
            var files = r.GetValue(photos) is { Length: > 0 } given ? ImageFiles(given, "bench liveness") : [];
            using var pipeline = Pipeline(new FaceRecognizerOptions { Detector = r.GetValue(detector), Threads = r.GetValue(threads), LivenessModel = r.GetValue(model) });
            var faces = LivenessBenchmark.Faces(pipeline, files);
            if (faces.Count == 0) throw new ImageException(string.Join(", ", files.Take(3)), "no face found to time");
            foreach (var n in r.GetValue(batch) is { Length: > 0 } b ? b : [1, 16])
            {
                CollectBeforeTiming();
                var res = LivenessBenchmark.Run(pipeline.Liveness, faces, pipeline.LivenessBoxes, n, r.GetValue(seconds));
                stdout.WriteLine(r.GetValue(json)
                    ? JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["ms_per_face"] = Math.Round(res.MsPerFace, 3), ["crop_ms_per_face"] = Math.Round(res.CropMsPerFace, 3),
                        ["networks_ms_per_face"] = Math.Round(res.NetworkMsPerFace, 3), ["batch"] = n, ["networks"] = pipeline.Liveness.Networks.Count,
                        ["faces"] = faces.Count, ["peak_memory_mb"] = Math.Round(res.PeakMemoryMb, 1), ["cores"] = Environment.ProcessorCount,
                    }, Json)
                    : $"batch {n,3}: {res.MsPerFace,7:F2} ms per face ({res.CropMsPerFace:F2} ms cutting the patches, {res.NetworkMsPerFace:F2} ms for the "
                        + $"{pipeline.Liveness.Networks.Count} networks; {res.Runs} runs of {faces.Count} face(s))  peak memory {res.PeakMemoryMb:F0} MB  "
                        + $"[{Environment.ProcessorCount} cores]");
            }
            return Ok;
        }));
        return cmd;
    }

    private static double? R(double? v) => v is { } x && double.IsFinite(x) ? Math.Round(x, 5) : null;

    private static string Pct(double v) => double.IsFinite(v) ? (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + " %" : "n/a";

    /// <summary>Progress on a terminal's stderr, not when it is redirected (or a test's writer).</summary>
    private Action<int, int>? Progress(string what) => !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error)
        ? (done, total) => { if (done % 16 == 0 || done == total) stderr.Write($"\r{what} {done}/{total} photos"); } : null;

    private void EndProgress()
    {
        if (!Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error)) stderr.WriteLine();
    }
}
