using FaceNet.Video;

namespace FaceNet.Cli;

// facenet video: faces tracked through a video file, stream or camera.
public sealed partial class FaceNetCli
{
    private Command VideoCommand()
    {
        var input = new Argument<string>("input")
        {
            Description = "A video file, a stream URL (rtsp://, http://, …) or a camera device (/dev/video0), decoded by FFmpeg",
        };
        var gallery = new Option<string?>("--gallery", "-g")
        {
            Description = "Name each track from this gallery (SQLite file or PostgreSQL connection string); without it, tracks are "
                + "clustered",
        };
        var model = ModelOption(); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var every = new Option<int>("--every")
        {
            Description = "Look for faces on every N-th frame (default: chosen from the measured cost, to run at twice real time)",
            DefaultValueFactory = _ => 0,
        }.Within(0, 10_000);
        var minTrack = new Option<int>("--min-track")
        {
            Description = "Detections a track needs to be reported",
            DefaultValueFactory = _ => 3,
        }.Within(1, 1_000_000);
        var maxGap = Options.Real("--max-gap", "Seconds a track survives unseen", 1.0, 0, 3600, minOpen: true);
        var identity = new Option<string>("--identity")
        {
            Description = "A track's identity from its embeddings' votes, weighted by quality (vote), or from their weighted mean (mean)",
            DefaultValueFactory = _ => "vote",
        };
        identity.AcceptOnlyFromAmong("mean", "vote");
        var output = new Option<string?>("--output", "-o") { Description = "Write the video with each face's box and name drawn (H.264 for .mp4)" };
        var facesDir = new Option<string?>("--faces-dir") { Description = "Save each track's best face here (track-N.png)" };
        var timeout = Options.Real("--timeout", "Seconds without a frame before a stream counts as stopped", 10, 0, 3600, minOpen: true);
        var threshold = ThresholdOption("Threshold for tracks and the gallery (default: the model's for tracks, the --fpir rule for the gallery)");
        var fpir = Options.Real("--fpir", $"With -g: target share of strangers' tracks that may get a name (default {IdentifyOptions.DefaultFpir})", 0, 1, minOpen: true, maxOpen: true);
        var liveness = new Option<bool>("--liveness") { Description = "A liveness verdict per track (live, attack, or cannot be judged), from the faces embedded for it" };
        var cmd = new Command("video", "Faces through a video: one line per person who appeared (start, end, who or which cluster), from tracks, not frames")
            { input, gallery, _masterKeyFile, model, detector, every, minTrack, maxGap, identity, output, facesDir, timeout, threshold, fpir, liveness, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var dir = r.GetValue(facesDir);
            if (dir is not null) Directory.CreateDirectory(dir);
            var galleryPath = r.GetValue(gallery);
            using var pipeline = Pipeline(new FaceRecognizerOptions
            {
                Model = galleryPath is null ? r.GetValue(model) : GalleryModelName(galleryPath, r.GetValue(model),
                    GalleryKey(r)), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads), Threshold = r.GetValue(threshold),
            });
            using var gal = galleryPath is null ? null : FaceGallery.Open(galleryPath, GalleryModel.For(pipeline.Model), readOnly: true, key: GalleryKey(r));
            var options = new VideoOptions
            {
                Every = r.GetValue(every), MinFrames = r.GetValue(minTrack), MaxGap = r.GetValue(maxGap), KeepBestFace = dir is not null,
                Liveness = r.GetValue(liveness),
                Identity = r.GetValue(identity) == "mean" ? TrackIdentity.Mean : TrackIdentity.Vote,
                Identification = new IdentifyOptions { Fpir = r.GetValue(fpir) ?? IdentifyOptions.DefaultFpir, Threshold = r.GetValue(threshold) },
            };
            using var reader = VideoReader.Open(r.GetValue(input)!, TimeSpan.FromSeconds(r.GetValue(timeout)));
            bool asJson = r.GetValue(json);
            if (!asJson) stdout.WriteLine($"{r.GetValue(input)}: {reader.Info.Width}x{reader.Info.Height}, {reader.Info.Fps:0.##} fps"
                + (reader.Info.Duration is { } d ? $", {Clock(d)}" : "") + $"; model {pipeline.Model.Info.Name}, detector {pipeline.Detector.Name}");
            void Track(FaceTrackResult t)
            {
                string? face = null;
                if (dir is not null && t.BestFace is { } crop)
                {
                    face = Path.Combine(dir, $"track-{t.Track}.png");
                    Annotate.Save(crop, [], face);
                }
                if (asJson)
                {
                    var line = new Dictionary<string, object?>
                    {
                        ["track"] = t.Track, ["start"] = Math.Round(t.Start, 3), ["end"] = Math.Round(t.End, 3), ["frames"] = t.Frames,
                        ["name"] = t.Name, ["known"] = t.Known, ["distance"] = t.Distance is { } dist ? Math.Round(dist,
                            4) : null, ["threshold"] = Math.Round(t.Threshold, 4),
                        ["best_frame"] = Math.Round(t.BestFrame, 3), ["box"] = new[] { (int)t.Box.X, (int)t.Box.Y, (int)t.Box.Width, (int)t.Box.Height },
                    };
                    if (t.Cluster is { } c) line["cluster"] = c;
                    if (t.Liveness is { } l)
                    {
                        line["live"] = l.Live;
                        line["liveness_score"] = Math.Round(l.Score, 4);
                        line["liveness_threshold"] = l.Threshold;
                        if (l.Live is null) line["liveness_reason"] = l.Reason;
                    }
                    if (face is not null) line["face"] = face;
                    stdout.WriteLine(JsonSerializer.Serialize(line, Json));
                }
                else
                {
                    string who = t.Cluster is { } c ? $"person {c}" : t.Known ? $"{t.Name} ({F(t.Distance!.Value)} ≤ {F(t.Threshold)})" : $"unknown (nearest {F(t.Distance ?? double.NaN)} > {F(t.Threshold)})";
                    var live = t.Liveness is { } l ? "; " + l.Describe() : "";
                    stdout.WriteLine($"{Clock(t.Start)} – {Clock(t.End)}  track {t.Track}: {who}, seen in {t.Frames} frames, best at {Clock(t.BestFrame)}{live}");
                }
                stdout.Flush();
            }
            var outPath = r.GetValue(output);
            if (outPath is not null && Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } outDir && !Directory.Exists(outDir))
                throw new UsageException($"--output: folder {outDir} does not exist");
            using var writer = outPath is null ? null : new VideoWriter(outPath, reader.Width, reader.Height, reader.Info.Fps);
            VideoSummary summary;
            try { summary = new VideoFaces(pipeline, gal, options).Run(reader, Track,
                writer is null ? null : (frame, faces) => writer.Write(frame.Image, faces)); }
            finally
            {
                stdout.Flush();
                writer?.Close(); // what was decoded is written, even when the video broke off
            }
            var done = $"{summary.VideoSeconds:0.0} s of video ({summary.Frames} frames, faces looked for in {summary.DetectedFrames}, {(summary.Every == 1 ? "every frame" : $"every {Ordinal(summary.Every)} frame")} at the end) in {summary.WallSeconds:0.0} s: {summary.RealTimeFactor:0.00}x real time; {summary.Tracks} track(s)";
            (asJson ? stderr : stdout).WriteLine(done);
            return Ok;
        }));
        return cmd;
    }

    private static string Clock(double seconds) => TimeSpan.FromSeconds(Math.Max(0,
        seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss\.f" : @"mm\:ss\.f", CultureInfo.InvariantCulture);

    private static string Ordinal(int n) => n + (n % 10 == 2 && n % 100 != 12 ? "nd" : n % 10 == 3 && n % 100 != 13 ? "rd" : n % 10 == 1
        && n % 100 != 11 ? "st" : "th");
}
