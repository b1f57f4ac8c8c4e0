using FaceNet.Video;

namespace FaceNet.Cli;

// facenet video: faces tracked through a video file, stream or camera.
public sealed partial class FaceNetCli
{
    private Command VideoCommand()
    {
        var input = new Argument<string>("input") { Description = "A video file, a stream URL (rtsp://, http://, …) or a camera device (/dev/video0), "
            + "decoded by FFmpeg" };
        var gallery = Options.Text("--gallery", "Name each track from this gallery (SQLite file or PostgreSQL connection string); without it, tracks are "
            + "clustered", "-g");
        var model = ModelOption(); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var every = Options.Int("--every", "Look for faces on every N-th frame (default: chosen from the measured cost, to run at twice real time)", 0, 0, 10_000);
        var minTrack = Options.Int("--min-track", "Detections a track needs to be reported", 3, 1, 1_000_000);
        var maxGap = Options.Real("--max-gap", "Seconds a track survives unseen", 1.0, 0, 3600, minOpen: true);
        var identity = Options.Setting("--identity", "A track's identity from its embeddings' votes, weighted by quality (vote), or from their weighted "
            + "mean (mean)", "vote", "mean", "vote");
        var output = Options.Text("--output", "Write the video with each face's box and name drawn (H.264 for .mp4)", "-o");
        var facesDir = Options.Text("--faces-dir", "Save each track's best face here (track-N.png)");
        var timeout = Options.Real("--timeout", "Seconds without a frame before a stream counts as stopped", 10, 0, 3600, minOpen: true);
        var threshold = ThresholdOption("Threshold for tracks and the gallery (default: the model's for tracks, the --fpir rule for the gallery)");
        var fpir = Options.Real("--fpir", $"With -g: target share of strangers' tracks that may get a name (default {IdentifyOptions.DefaultFpir})", 0, 1,
            minOpen: true, maxOpen: true);
        var liveness = Options.Flag("--liveness", "A liveness verdict per track (live, attack, or cannot be judged), from the faces embedded for it");
        var cmd = new Command("video", "Faces through a video: one line per person who appeared (start, end, who or which cluster), from tracks, not frames")
            { input, gallery, _masterKeyFile, model, detector, every, minTrack, maxGap, identity, output, facesDir, timeout, threshold, fpir, liveness, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var dir = r.GetValue(facesDir);
            if (dir is not null) Directory.CreateDirectory(dir);
            var galleryPath = r.GetValue(gallery);
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = galleryPath is null ? r.GetValue(model) : GalleryModelName(galleryPath, r.GetValue(model), GalleryKey(r)),
                Detector = r.GetValue(detector), Threads = r.GetValue(threads), Threshold = r.GetValue(threshold) });
            using var gal = galleryPath is null ? null : FaceGallery.Open(galleryPath, GalleryModel.For(pipeline.Model), readOnly: true, key: GalleryKey(r));
            var options = new VideoOptions
            {
                Every = r.GetValue(every), MinFrames = r.GetValue(minTrack), MaxGap = r.GetValue(maxGap), KeepBestFace = dir is not null,
                Liveness = r.GetValue(liveness), Identity = r.GetValue(identity) == "mean" ? TrackIdentity.Mean : TrackIdentity.Vote,
                Identification = new IdentifyOptions { Fpir = r.GetValue(fpir) ?? IdentifyOptions.DefaultFpir, Threshold = r.GetValue(threshold) },
            };
            return Watch(pipeline, new VideoFaces(pipeline, gal, options), r.GetValue(input)!, TimeSpan.FromSeconds(r.GetValue(timeout)), r.GetValue(output), dir,
                r.GetValue(json));
        }));
        return cmd;
    }

    /// <summary>Runs the tracker over the video: a line (or JSON object) per track as it ends, the drawn video, then the summary.</summary>
    private int Watch(FaceRecognizer pipeline, VideoFaces tracker, string input, TimeSpan timeout, string? output, string? dir, bool asJson)
    {
        using var reader = VideoReader.Open(input, timeout);
        if (!asJson) stdout.WriteLine($"{input}: {reader.Info.Width}x{reader.Info.Height}, {reader.Info.Fps:0.##} fps"
            + (reader.Info.Duration is { } d ? $", {Clock(d)}" : "") + $"; model {pipeline.Model.Info.Name}, detector {pipeline.Detector.Name}");
        using var writer = output is { } outPath ? OutputVideo(outPath, reader) : null;
        VideoSummary summary;
        try
        {
            summary = tracker.Run(reader, t => ReportTrack(t, dir, asJson), writer is null ? null : (frame, faces) => writer.Write(frame.Image, faces));
        }
        finally { stdout.Flush(); writer?.Close(); } // what was decoded is written, even when the video broke off
        (asJson ? stderr : stdout).WriteLine(Describe(summary));
        return Ok;
    }

    private static VideoWriter OutputVideo(string path, VideoReader reader)
    {
        OutputFolderExists("--output", path);
        return new VideoWriter(path, reader.Width, reader.Height, reader.Info.Fps);
    }

    private static string Describe(VideoSummary summary) => $"{summary.VideoSeconds:0.0} s of video ({summary.Frames} frames, faces looked for in "
        + $"{summary.DetectedFrames}, "
        + $"{(summary.Every == 1 ? "every frame" : $"every {Ordinal(summary.Every)} frame")} at the end) in {summary.WallSeconds:0.0} s: "
        + $"{summary.RealTimeFactor:0.00}x real time; {summary.Tracks} track(s)";

    /// <summary>One line per track as it ends (its best face saved first when asked).</summary>
    private void ReportTrack(FaceTrackResult t, string? facesDir, bool json)
    {
        string? face = null;
        if (facesDir is not null && t.BestFace is { } crop) Annotate.Save(crop, [], face = Path.Combine(facesDir, $"track-{t.Track}.png"));
        if (json)
        {
            var line = new Dictionary<string, object?>
            {
                ["track"] = t.Track, ["start"] = Math.Round(t.Start, 3), ["end"] = Math.Round(t.End, 3), ["frames"] = t.Frames, ["name"] = t.Name, ["known"] = t.Known,
                ["distance"] = t.Distance is { } dist ? Math.Round(dist, 4) : null, ["threshold"] = Math.Round(t.Threshold, 4),
                ["best_frame"] = Math.Round(t.BestFrame, 3), ["box"] = new[] { (int)t.Box.X, (int)t.Box.Y, (int)t.Box.Width, (int)t.Box.Height },
            };
            if (t.Cluster is { } c) line["cluster"] = c;
            if (t.Liveness is { } l)
            {
                (line["live"], line["liveness_score"], line["liveness_threshold"]) = (l.Live, Math.Round(l.Score, 4), l.Threshold);
                if (l.Live is null) line["liveness_reason"] = l.Reason;
            }
            if (face is not null) line["face"] = face;
            stdout.WriteLine(JsonSerializer.Serialize(line, Json));
        }
        else
        {
            string who = t.Cluster is { } c ? $"person {c}" : t.Known ? $"{t.Name} ({F(t.Distance!.Value)} ≤ {F(t.Threshold)})" : $"unknown (nearest {F(t.Distance ?? double.NaN)} > {F(t.Threshold)})";
            stdout.WriteLine($"{Clock(t.Start)} – {Clock(t.End)}  track {t.Track}: {who}, seen in {t.Frames} frames, best at "
                + $"{Clock(t.BestFrame)}{(t.Liveness is { } l ? "; " + l.Describe() : "")}");
        }
        stdout.Flush();
    }

    private static string Clock(double seconds) => TimeSpan.FromSeconds(Math.Max(0,
        seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss\.f" : @"mm\:ss\.f", CultureInfo.InvariantCulture);

    private static string Ordinal(int n) => n + (n % 10 == 2 && n % 100 != 12 ? "nd" : n % 10 == 3 && n % 100 != 13 ? "rd" : n % 10 == 1
        && n % 100 != 11 ? "st" : "th");
}
