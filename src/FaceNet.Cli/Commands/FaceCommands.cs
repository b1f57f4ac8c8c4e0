namespace FaceNet.Cli;

// Commands on faces in photos: embed, compare, align, detect.
public sealed partial class FaceNetCli
{
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
                        stdout.WriteLine(JsonSerializer.Serialize(new EmbedLine(file, f.Index, box, f.Vector), Json));
                    else
                        stdout.WriteLine($"{file} face {f.Index}{(box is null ? "" : $" [{string.Join(",", box)}]")}: {f.Vector.Length}-d [{string.Join(", ", f.Vector.Take(4).Select(v => F(v)))}, …]");
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
                try { embeddings.Add(Faces(pipeline, file, r.GetValue(aligned), false)[0].Vector); }
                catch (ImageException e) { ReportInput(e); failed = true; }
            }
            if (failed) return InputError;
            var info = pipeline.Model.Info;
            if (files.Length == 2)
            {
                var v = new Verifier(info.Metric, info.Threshold).Verify(embeddings[0], embeddings[1]);
                if (r.GetValue(json))
                    stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["distance"] = Math.Round(v.Distance, 6), ["threshold"] = v.Threshold, ["same"] = v.Same, ["metric"] = v.Metric,
                        ["far"] = r.GetValue(threshold) is null ? info.ThresholdFar : null, ["frr"] = r.GetValue(threshold) is null ? info.ThresholdFrr : null,
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
            {
                var pairs = new List<Dictionary<string, object>>();
                for (int i = 0; i < files.Length; i++)
                    for (int j = i + 1; j < files.Length; j++)
                        pairs.Add(new() { ["a"] = files[i], ["b"] = files[j], ["distance"] = matrix[i][j], ["same"] = matrix[i][j] <= info.Threshold });
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["files"] = files, ["distances"] = matrix, ["threshold"] = info.Threshold, ["metric"] = info.Metric, ["pairs"] = pairs,
                    ["far"] = r.GetValue(threshold) is null ? info.ThresholdFar : null, ["frr"] = r.GetValue(threshold) is null ? info.ThresholdFrr : null,
                    ["threshold_source"] = ThresholdSource(info, r.GetValue(threshold)),
                }, Json));
            }
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
                    if (!r.GetValue(allFaces)) faces = [faces[MainFace.Index(faces, image.Width, image.Height)]];
                    for (int i = 0; i < faces.Count; i++)
                    {
                        var target = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(file)}_{i}.png");
                        Annotate.Save(pipeline.Model.Align(image, faces[i]).Primary, [], target);
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
}
