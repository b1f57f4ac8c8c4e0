namespace FaceNet.Cli;

// Commands on faces in photos: embed, compare, align, detect.
public sealed partial class FaceNetCli
{
    /// <summary>One JSON line for an image that could not be used: a --json stream says what failed, not only stderr.</summary>
    private void JsonFailure(string file, FaceNetException e) => stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["file"] = file, ["error"] = e.Reason }, Json));

    /// <summary>
    /// Runs <paramref name="work"/> on each image: one that cannot be used is reported (with --json, a JSON line says so too)
    /// and the rest go on; <paramref name="work"/> returns false for a failure it reported itself. True when any failed.
    /// </summary>
    private bool EachImage(IEnumerable<string> files, bool json, Func<string, bool> work)
    {
        bool failed = false;
        foreach (var file in files)
        {
            try { failed |= !work(file); }
            catch (ImageException e)
            {
                ReportInput(e);
                if (json) JsonFailure(file, e);
                failed = true;
            }
        }
        return failed;
    }

    /// <summary>Tells the user when a photo with several faces stands for one of them.</summary>
    private void NoteMainFace(string file, int found, string what) =>
        stderr.WriteLine($"note: {file} has {found} faces; {what}");

    private Command EmbedCommand()
    {
        var model = ModelOption(); var aligned = AlignedOption(); var json = JsonOption(); var threads = ThreadsOption(); var preprocess = PreprocessOption();
        var detector = DetectorOption(); var allFaces = AllFacesOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var images = ImagesArgument();
        var cmd = new Command("embed", "Print the embedding of each image's subject (--all-faces: of every face)")
            { model, detector, aligned, allFaces, flip, alignment, json, threads, preprocess, images };
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "embed");
            using var pipeline = Pipeline(new FaceRecognizerOptions
            {
                Model = r.GetValue(model), Detector = r.GetValue(detector), Threads = r.GetValue(threads), Flip = r.GetValue(flip),
                Preprocess = r.GetValue(preprocess), Alignment = r.GetValue(alignment),
            }, r.GetValue(aligned));
            bool failed = EachImage(files, r.GetValue(json), file =>
            {
                var (faces, found) = pipeline.EmbedFaces(file, Which(r.GetValue(aligned), r.GetValue(allFaces)));
                if (found > 1 && !r.GetValue(allFaces)) NoteMainFace(file, found, "embedding its subject (--all-faces embeds each)");
                foreach (var f in faces)
                {
                    var box = r.GetValue(aligned) ? null : f.Face.Box.ToArray();
                    if (r.GetValue(json))
                        stdout.WriteLine(JsonLine(FaceJson.Of(f.Face, f.Vector), ("file", file), ("face", f.Index), ("box", box),
                            ("model", pipeline.Model.Info.Name)));
                    else
                        stdout.WriteLine($"{file} face {f.Index}{(box is null ? "" : $" [{string.Join(",", box)}]")}: {f.Vector.Length}-d "
                            + $"[{string.Join(", ", f.Vector.Take(4).Select(v => F(v)))}, …]");
                }
                return true;
            });
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private Command CompareCommand()
    {
        var model = ModelOption(); var aligned = AlignedOption(); var json = JsonOption(); var threads = ThreadsOption(); var preprocess = PreprocessOption();
        var detector = DetectorOption(); var flip = FlipOption(); var alignment = AlignmentOption();
        var threshold = ThresholdOption();
        var bestMatch = Options.Flag("--best-match", "With group photos: compare the closest pair of faces of the two images, not each image's subject");
        var images = Options.Images("images", "Two or more image files (or folders of them)", new ArgumentArity(1, 100_000));
        var cmd = new Command("compare", "Distance between the faces of images, and whether they are the same person")
            { model, detector, aligned, flip, alignment, threshold, bestMatch, json, threads, preprocess, images };
        var live = new LivenessOptions();
        live.AddTo(cmd);
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "compare");
            if (files.Count < 2) throw new UsageException("compare: two or more images are needed");
            if (r.GetValue(bestMatch) && r.GetValue(aligned)) throw new UsageException("--best-match looks for faces: it does not go with --aligned");
            using var pipeline = Pipeline(live.Apply(r, new FaceRecognizerOptions
            {
                Model = r.GetValue(model), Detector = r.GetValue(detector), Threads = r.GetValue(threads), Threshold = r.GetValue(threshold), Flip = r.GetValue(flip),
                Preprocess = r.GetValue(preprocess), Alignment = r.GetValue(alignment),
            }, r.GetValue(aligned)), r.GetValue(aligned));
            var (good, errors) = EmbedForCompare(pipeline, files, r.GetValue(aligned), r.GetValue(bestMatch));
            var given = r.GetValue(threshold);
            if (files.Count == 2 && good.Count == 2) ReportPair(pipeline, good, given, r.GetValue(json));
            else ReportMatrix(pipeline, good, errors, given, r.GetValue(json));
            return errors.Count > 0 ? InputError : Ok;
        }));
        return cmd;
    }

    private sealed record ComparedPhoto(string File, IReadOnlyList<FaceEmbedding> Faces, int Found);

    /// <summary>Every face of every image when the closest pair is wanted, else each image's subject; the images that failed, with why.</summary>
    private (List<ComparedPhoto> Good, List<(string File, string Error)> Errors) EmbedForCompare(FaceRecognizer pipeline, List<string> files, bool aligned, bool bestMatch)
    {
        var good = new List<ComparedPhoto>();
        var errors = new List<(string File, string Error)>();
        foreach (var file in files)
        {
            try
            {
                var (faces, found) = pipeline.EmbedFaces(file, Which(aligned, bestMatch));
                if (found > 1 && !bestMatch) NoteMainFace(file, found, "comparing its subject (--best-match compares the closest pair of faces)");
                good.Add(new(file, faces, found));
            }
            catch (ImageException e) { ReportInput(e); errors.Add((file, e.Reason)); }
        }
        return (good, errors);
    }

    /// <summary>Two images: one verdict, as the service's verify answers it.</summary>
    private void ReportPair(FaceRecognizer pipeline, List<ComparedPhoto> good, double? given, bool json)
    {
        var info = pipeline.Model.Info;
        var v = pipeline.Closest(good[0].Faces, good[1].Faces) with { FacesInA = good[0].Found, FacesInB = good[1].Found };
        var source = ThresholdSource(info, given);
        if (!json)
        {
            stdout.WriteLine($"distance {F(v.Distance)}  threshold {F(v.Threshold)} ({v.Metric.Name()}; {source})  "
                + $"{(v.Same ? "same person" : "different people")}");
            return;
        }
        // the service's verify answer; each face also says which face of its image it is
        var answer = VerifyResponse.Of(v, source, pipeline.Model);
        stdout.WriteLine(JsonLine(answer, ("far", given is null ? info.ThresholdFar : null), ("frr", given is null ? info.ThresholdFrr : null),
            ("faces", answer.Faces.Zip([v.A!.Index, v.B!.Index], (face, index) => Merged(face, ("face", index))).ToArray())));
    }

    /// <summary>More images: the distance matrix and a verdict per pair, each pair held to its own threshold (the pose-aware rule).</summary>
    private void ReportMatrix(FaceRecognizer pipeline, List<ComparedPhoto> good, List<(string File, string Error)> errors, double? given, bool json)
    {
        var info = pipeline.Model.Info;
        var source = ThresholdSource(info, given);
        int n = good.Count;
        var verdicts = pipeline.CompareAll(good.Select(g => g.Faces).ToList());
        var matrix = Enumerable.Range(0, n).Select(i => Enumerable.Range(0, n).Select(j => i == j ? 0 : Math.Round(verdicts[i, j]!.Distance, 6)).ToArray()).ToArray();
        var pairs = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(i + 1, n - i - 1).Select(j => (i, j))).ToList();
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["files"] = good.Select(g => g.File).ToArray(), ["distances"] = matrix, ["threshold"] = info.Threshold, ["metric"] = info.Metric.Name(),
                ["pairs"] = pairs.Select(p => new Dictionary<string, object> { ["a"] = good[p.i].File, ["b"] = good[p.j].File, ["distance"] = matrix[p.i][p.j],
                    ["same"] = verdicts[p.i, p.j]!.Same, ["threshold"] = Math.Round(verdicts[p.i, p.j]!.Threshold, 6) }).ToArray(),
                ["far"] = given is null ? info.ThresholdFar : null, ["frr"] = given is null ? info.ThresholdFrr : null,
                ["threshold_source"] = source, ["model"] = info.Name, ["model_id"] = pipeline.Model.Identity,
                ["errors"] = errors.Select(e => new Dictionary<string, string> { ["file"] = e.File, ["error"] = e.Error }).ToArray(),
            }, Json));
            return;
        }
        if (n < 2) return;
        stdout.WriteLine($"{info.Metric.Name()} distances (threshold {F(info.Threshold)}; {source}):");
        for (int i = 0; i < n; i++) stdout.WriteLine(string.Join("  ", matrix[i].Select(d => F(d))) + "  " + good[i].File);
        foreach (var (i, j) in pairs)
        {
            var v = verdicts[i, j]!;
            stdout.WriteLine($"{(v.Same ? "same person     " : "different people")}  {F(matrix[i][j])}  {good[i].File}  {good[j].File}"
                + (Math.Abs(v.Threshold - info.Threshold) > 1e-9 ? $"  (threshold {F(v.Threshold)} for faces {v.PoseDifference:F0}° apart in yaw)" : ""));
        }
    }

    private Command AlignCommand()
    {
        var model = ModelOption(); var detector = DetectorOption(); var allFaces = AllFacesOption(); var alignment = AlignmentOption(); var threads = ThreadsOption();
        var output = Options.Required("--output", "Folder for the face crops (PNG)", "-o");
        var images = ImagesArgument();
        var cmd = new Command("align", "Write the face crops the model sees (detection + the model's alignment)") { model, detector,
            allFaces, alignment, output, threads, images };
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "align");
            var dir = OutputFolder(r.GetValue(output)!);
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads), Alignment = r.GetValue(alignment) });
            bool failed = EachImage(files, json: false, file =>
            {
                // decoded, detected and aligned as embed does, so these are the crops it embeds
                var photo = pipeline.Read(file);
                var subject = pipeline.DetectMain(photo);
                if (subject.Face is null) throw new NoFaceException(file);
                if (!r.GetValue(allFaces) && subject.All.Count > 1) NoteMainFace(file, subject.All.Count, "writing its subject's crop (--all-faces writes "
                    + "each)");
                var faces = subject.Chosen(r.GetValue(allFaces));
                for (int i = 0; i < faces.Count; i++)
                {
                    var target = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(file)}_{i}.png");
                    Annotate.Save(pipeline.Align(photo, faces[i]).Primary, [], target);
                    stdout.WriteLine(target);
                }
                return true;
            });
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private Command DetectCommand()
    {
        var detector = DetectorOption(); var json = JsonOption(); var threads = ThreadsOption();
        var output = Options.Text("--output", "Write the image with boxes and landmarks drawn (PNG); with several images, a folder", "-o");
        var images = ImagesArgument();
        var cmd = new Command("detect", "Find faces: boxes, scores and five landmarks") { detector, json, output, threads, images };
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "detect");
            var outPath = r.GetValue(output);
            if (outPath is not null && files.Count > 1) OutputFolder(outPath);
            using var det = Detectors.Create(r.GetValue(detector), r.GetValue(threads));
            bool failed = EachImage(files, r.GetValue(json), file =>
            {
                var image = ImageDecoder.Load(file);
                var faces = FaceQuality.Measured(image, det.Detect(image));
                ReportDetections(file, faces, r.GetValue(json));
                if (outPath is not null) Annotate.Save(image, faces, files.Count == 1 ? outPath : Path.Combine(outPath, Path.GetFileNameWithoutExtension(file) + ".png"));
                // a photo without a face is an input error with or without --json (the JSON line says faces: [])
                if (faces.Count == 0) stderr.WriteLine($"error: {file}: no face found");
                return faces.Count > 0;
            });
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private void ReportDetections(string file, IReadOnlyList<DetectedFace> faces, bool json)
    {
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["file"] = file,
                ["faces"] = faces.Select(f => new Dictionary<string, object?>
                {
                    ["box"] = f.Box.ToArray(), ["score"] = Math.Round(f.Score, 4),
                    ["landmarks"] = f.Landmarks?.Select(p => new[] { Math.Round(p.X, 1), Math.Round(p.Y, 1) }).ToArray(),
                    ["landmarks_source"] = f.LandmarksSource, ["pose"] = PoseJson(f.Pose), ["quality"] = QualityJson(f.Quality!),
                }).ToArray(),
            }, Json));
            return;
        }
        stdout.WriteLine($"{file}: {faces.Count} face(s)");
        foreach (var f in faces)
            stdout.WriteLine($"  [{string.Join(",", f.Box.ToArray())}] score "
                + $"{f.Score:F3}{(f.Pose is { } p ? $", yaw {p.Yaw:F0}° pitch {p.Pitch:F0}° roll {p.Roll:F0}°" : "")}, "
                + $"quality {f.Quality!.Score:F2}{(f.Quality.Issue is { } why ? $" ({why})" : "")}");
    }

    /// <summary>A face's pose as JSON, <c>{"yaw", "pitch", "roll"}</c> in degrees; null for a face without landmarks.</summary>
    internal static Dictionary<string, double>? PoseJson(HeadPose? pose) => pose is { } p ? new() { ["yaw"] = p.Yaw, ["pitch"] = p.Pitch, ["roll"] = p.Roll } : null;

    /// <summary>A face's quality as JSON: the score and what it combines.</summary>
    private static Dictionary<string, object?> QualityJson(FaceQuality q) => new()
    {
        ["score"] = q.Score, ["eye_distance"] = q.EyeDistance, ["sharpness"] = q.Sharpness, ["yaw"] = q.Yaw, ["detector_score"] = Math.Round(q.DetectorScore, 4), ["issue"] = q.Issue,
    };

    /// <summary>An output folder: made if missing; a file in its place is a usage error naming it.</summary>
    private static string OutputFolder(string path)
    {
        if (File.Exists(path)) throw new OutputFileException(path, "is a file; a folder is needed here");
        try { Directory.CreateDirectory(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new OutputFileException(path,
            e is UnauthorizedAccessException ? "permission denied" : e.Message, e); }
        return path;
    }
}
