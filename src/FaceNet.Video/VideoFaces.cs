using System.Diagnostics;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Matching;

namespace FaceNet.Video;

/// <summary>
/// Faces through a video: detection on every N-th frame, detections linked into tracks by overlap with
/// where a track was (IoU) unless their embedding says another person, or — for a face that moved too far
/// or came back after a gap — by embedding distance; a track ends when unseen for <see cref="VideoOptions.MaxGap"/>. Each track gets one identity
/// from its embeddings together (<see cref="TrackIdentity"/>), never a name per frame. Without a gallery,
/// tracks are clustered as they end (the same person leaving and coming back joins the first track's cluster).
/// </summary>
public sealed class VideoFaces(FaceRecognizer recognizer, FaceGallery? gallery, VideoOptions? options = null)
{
    private const double LinkIoU = 0.3;
    private readonly VideoOptions _options = options ?? new VideoOptions();

    private sealed class Track(int id, double start)
    {
        public readonly int Id = id;
        public readonly double Start = start;
        public double End = start;
        public int Frames;
        public FaceBox Box;
        public double LastEmbedded = double.NegativeInfinity;
        public double BestQuality = -1, BestTime;
        public FaceBox BestBox;
        public RgbImage? BestFace;
        public readonly List<(float[] Vector, double Weight, bool Whole, double? Yaw)> Embeddings = [];
        public string Label = $"track {id}";
        public readonly List<FaceNet.Liveness.LivenessResult> Liveness = [];
        public bool Known;

        /// <summary>The track's best views, for comparing it with other faces.</summary>
        public List<float[]> Linked() => Views().OrderByDescending(e => e.Weight).Take(MaxLinked).Select(e => e.Vector).ToList();

        /// <summary>Whether any view shows the whole face (not cut by the frame's edge).</summary>
        public bool Complete => Embeddings.Any(e => e.Whole);

        /// <summary>The views to judge the track by: the whole faces when there are any.</summary>
        public List<(float[] Vector, double Weight)> Views() => Embeddings.Where(e => e.Whole || !Complete).Select(e => (e.Vector, e.Weight)).ToList();

        /// <summary>The views' yaws (degrees; null where a face had no landmarks), in the order of <see cref="Views"/>.</summary>
        public List<double?> ViewYaws() => Embeddings.Where(e => e.Whole || !Complete).Select(e => e.Yaw).ToList();
    }

    /// <summary>
    /// Runs through the video; <paramref name="onTrack"/> gets each track as it ends. A video that breaks
    /// off throws <see cref="VideoException"/> after the tracks found until then have been given.
    /// </summary>
    /// <param name="onFrame">every frame with the faces tracked in it (box in the frame as decoded, running label), for drawing</param>
    public VideoSummary Run(VideoReader reader, Action<FaceTrackResult> onTrack,
        Action<VideoFrame, IReadOnlyList<(FaceBox Box, string Label, bool Known)>>? onFrame = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        var active = new List<Track>();
        var clusters = new List<List<float[]>>();
        int nextId = 1, reported = 0;
        long frames = 0, detected = 0;
        double fps = reader.Info.Fps, lastTime = 0;
        int every = _options.Every > 0 ? _options.Every : Math.Max(1, (int)Math.Round(fps / 10));
        double detectCost = 0, frameCost = 0; // seconds, running means
        double threshold = recognizer.Threshold;
        var metric = recognizer.Model.Info.Metric;

        void Finish(Track t)
        {
            active.Remove(t);
            if (t.Frames < _options.MinFrames || t.Embeddings.Count == 0) return;
            string? name = null;
            bool known = false;
            double? distance = null;
            int? cluster = null;
            double used = threshold;
            if (gallery is not null)
            {
                (name, known, distance, used) = Identify(t, IdentificationThreshold());
            }
            else
                cluster = Cluster(clusters, t, threshold, metric);
            var s = 1 / reader.Scale;
            var box = new FaceBox((float)(t.BestBox.X * s), (float)(t.BestBox.Y * s), (float)(t.BestBox.Width * s), (float)(t.BestBox.Height * s));
            reported++;
            onTrack(new FaceTrackResult(t.Id, t.Start, t.End, t.Frames, t.Embeddings.Count, name, known, distance, used, t.BestTime, box, cluster, t.BestFace)
            {
                Liveness = _options.Liveness ? TrackLiveness(t.Liveness, recognizer.Liveness.Threshold) : null,
            });
        }

        void Draw(VideoFrame frame)
        {
            if (onFrame is null) return;
            // tracks seen at the last detection, with the name their embeddings give so far
            double recent = (every + 0.5) / Math.Max(fps, 1e-3);
            onFrame(frame, active.Where(t => frame.Time - t.End <= recent).Select(t => (t.Box, t.Label, t.Known)).ToList());
        }

        try
        {
            while (!ct.IsCancellationRequested)
            {
                var started = clock.Elapsed.TotalSeconds;
                var frame = reader.Next();
                if (frame is null) break;
                frames++;
                lastTime = frame.Time;
                if (frame.Index % every != 0)
                {
                    Draw(frame);
                    frameCost = Mean(frameCost, clock.Elapsed.TotalSeconds - started, frames);
                    continue;
                }
                var faces = recognizer.Detect(frame.Image);
                Step(frame, faces, active, ref nextId, threshold, metric);
                foreach (var t in active.Where(t => frame.Time - t.End > _options.MaxGap).ToList()) Finish(t);
                Draw(frame);
                detected++;
                detectCost = Mean(detectCost, clock.Elapsed.TotalSeconds - started, detected);
                if (_options.Every == 0) every = ChooseEvery(fps, detectCost, frameCost);
            }
        }
        finally
        {
            // whatever happened, the tracks found so far are given
            foreach (var t in active.OrderBy(t => t.Start).ToList()) Finish(t);
        }
        double videoSeconds = frames > 0 ? lastTime + 1 / Math.Max(fps, 1e-3) : 0;
        return new VideoSummary(videoSeconds, clock.Elapsed.TotalSeconds, frames, detected, every, reported);
    }

    /// <summary>Links one frame's detections to the tracks; embeds the faces that need it, in one batch.</summary>
    private void Step(VideoFrame frame, IReadOnlyList<DetectedFace> faces, List<Track> active, ref int nextId, double threshold, Metric metric)
    {
        double now = frame.Time;
        var assigned = new Track?[faces.Count];
        var taken = new HashSet<Track>();
        // 1. by overlap with where each track was last seen
        var pairs = new List<(double IoU, int Face, Track Track)>();
        for (int i = 0; i < faces.Count; i++)
            foreach (var t in active)
            {
                double iou = faces[i].Box.IoU(t.Box);
                if (iou >= LinkIoU) pairs.Add((iou, i, t));
            }
        foreach (var (_, i, t) in pairs.OrderByDescending(p => p.IoU))
            if (assigned[i] is null && taken.Add(t)) assigned[i] = t;

        // 2. embeddings: faces not linked yet, and linked ones whose track is due for one or sees a better view
        var coverage = faces.Select(f => Coverage(f, frame.Image.Width, frame.Image.Height)).ToArray();
        var quality = faces.Select((f, i) => Quality(f) * coverage[i] * coverage[i]).ToArray();
        var embed = Enumerable.Range(0, faces.Count).Where(i => assigned[i] is not { } t
            || now - t.LastEmbedded >= _options.EmbedInterval || quality[i] > t.BestQuality * 1.25).ToList();
        var vectors = new float[faces.Count][];
        if (embed.Count > 0)
        {
            var crops = embed.Select(i => recognizer.Model.Align(frame.Image, faces[i])).ToList();
            var v = recognizer.Model.Embed(crops);
            for (int k = 0; k < embed.Count; k++) vectors[embed[k]] = v[k];
        }
        // the faces embedded are the ones judged: a track's verdict rests on several views of it
        var judged = new FaceNet.Liveness.LivenessResult?[faces.Count];
        if (_options.Liveness && embed.Count > 0)
        {
            var verdicts = recognizer.CheckLiveness(FaceNet.Imaging.Photo.Of(frame.Image), [.. embed.Select(i => faces[i])]);
            for (int k = 0; k < embed.Count; k++) judged[embed[k]] = verdicts[k];
        }

        // a face linked by overlap but clearly not the track's person (a cut, people passing each other): unlinked again
        for (int i = 0; i < faces.Count; i++)
            if (assigned[i] is { } t && vectors[i] is { } v && t.Embeddings.Count > 0
                && AverageDistance([v], t.Linked(), metric) > SplitFactor * threshold)
            {
                taken.Remove(t);
                assigned[i] = null;
            }

        // 3. faces still unlinked: to a track not seen in this frame whose faces look the same (moved fast, came back), else a new track
        var loose = Enumerable.Range(0, faces.Count).Where(i => assigned[i] is null).ToList();
        var near = new List<(double Distance, int Face, Track Track)>();
        foreach (int i in loose)
            foreach (var t in active.Where(t => !taken.Contains(t) && t.Embeddings.Count > 0))
            {
                double d = AverageDistance([vectors[i]], t.Linked(), metric);
                if (d <= threshold) near.Add((d, i, t));
            }
        foreach (var (_, i, t) in near.OrderBy(p => p.Distance))
            if (assigned[i] is null && taken.Add(t)) assigned[i] = t;
        for (int i = 0; i < faces.Count; i++)
            if (assigned[i] is null)
            {
                var t = new Track(nextId++, now);
                active.Add(t);
                assigned[i] = t;
            }

        // 4. update
        for (int i = 0; i < faces.Count; i++)
        {
            var t = assigned[i]!;
            t.End = now;
            t.Frames++;
            t.Box = faces[i].Box;
            if (judged[i] is { } verdict) t.Liveness.Add(verdict);
            if (vectors[i] is { } v)
            {
                t.Embeddings.Add((v, quality[i], coverage[i] >= WholeFace, faces[i].Pose?.Yaw));
                t.LastEmbedded = now;
                if (gallery is not null)
                {
                    var (name, known, _, _) = Identify(t, IdentificationThreshold());
                    (t.Label, t.Known) = (known ? name! : "unknown", known);
                }
            }
            if (quality[i] > t.BestQuality)
            {
                t.BestQuality = quality[i];
                t.BestTime = now;
                t.BestBox = faces[i].Box;
                if (_options.KeepBestFace) t.BestFace = recognizer.Model.Align(frame.Image, faces[i]).Primary;
            }
        }
    }

    /// <summary>
    /// A track's liveness from its faces' verdicts: the mean score of the faces that could be judged, held to the threshold;
    /// null (with the commonest reason) when none could be.
    /// </summary>
    public static FaceNet.Liveness.LivenessResult? TrackLiveness(IReadOnlyList<FaceNet.Liveness.LivenessResult> faces, double threshold)
    {
        if (faces.Count == 0) return null;
        var judged = faces.Where(f => f.Live is not null).ToList();
        if (judged.Count == 0)
            return faces[0] with { Live = null, Score = faces.Average(f => f.Score), Threshold = threshold,
                Reason = faces.GroupBy(f => f.Reason).OrderByDescending(g => g.Count()).First().Key };
        double score = judged.Average(f => f.Score);
        return judged.OrderByDescending(f => f.Face.Box.Width).First() with { Live = score >= threshold, Score = score, Threshold = threshold, Reason = null };
    }

    // the track's views held to the gallery's rule: with the model's pose bands (unless the threshold was given), each candidate
    // at the FPIR threshold plus its band's offset, as a still photo's search is
    private (string? Name, bool Known, double? Distance, double Threshold) Identify(Track t, double threshold) => IdentifyTrack(gallery!, t.Views(),
        threshold, _options.Identity, _options.Identification.Threshold is null ? recognizer.Model.Info.PoseThresholds : null, t.ViewYaws());

    // the open-set threshold for the gallery as it is now, by the gallery's own rule; tracking keeps the 1:1 threshold
    private double IdentificationThreshold() => gallery!.Rule(recognizer.Model.Info, _options.Identification).Threshold;

    /// <summary>One identity for a track's embeddings (unit vectors with their quality weights), by <paramref name="rule"/>, at one fixed threshold.</summary>
    public static (string? Name, bool Known, double? Distance) IdentifyTrack(FaceGallery gallery,
        IReadOnlyList<(float[] Vector, double Weight)> embeddings, double threshold, TrackIdentity rule)
    {
        var (name, known, distance, _) = IdentifyTrack(gallery, embeddings, threshold, rule, null, null);
        return (name, known, distance);
    }

    /// <summary>
    /// One identity for a track's embeddings, by <paramref name="rule"/>: each search holds its candidates to <paramref name="threshold"/>
    /// plus their pose band's offset in <paramref name="poseBands"/> (the yaw of each view in <paramref name="yaws"/>; the mean
    /// embedding searches with the weighted mean of the views' |yaw|). The threshold returned is the one applied to the answer (for
    /// a vote, to the winner's nearest search).
    /// </summary>
    public static (string? Name, bool Known, double? Distance, double Threshold) IdentifyTrack(FaceGallery gallery,
        IReadOnlyList<(float[] Vector, double Weight)> embeddings, double threshold, TrackIdentity rule,
        Matching.PoseThresholds? poseBands, IReadOnlyList<double?>? yaws)
    {
        double? Yaw(int i) => yaws is not null && i < yaws.Count ? yaws[i] : null;
        if (rule == TrackIdentity.Mean)
        {
            var m = new float[embeddings[0].Vector.Length];
            foreach (var (v, w) in embeddings)
                for (int i = 0; i < m.Length; i++) m[i] += (float)(v[i] * w);
            L2.NormalizeInPlace(m);
            var known = Enumerable.Range(0, embeddings.Count).Where(i => Yaw(i) is not null).ToList();
            double weight = known.Sum(i => embeddings[i].Weight);
            double? yaw = known.Count == 0 ? null : weight > 0 ? known.Sum(i => Math.Abs(Yaw(i)!.Value) * embeddings[i].Weight) / weight
                : known.Average(i => Math.Abs(Yaw(i)!.Value));
            var id = gallery.Identify(m, threshold, poseBands, yaw);
            return (id.Known ? id.Name : null, id.Known, id.Distance, id.Threshold);
        }
        // vote: each embedding's answer weighted by its quality; unknown wins if it has the most weight
        var votes = new Dictionary<string, double>();
        var best = new Dictionary<string, (double Distance, double Threshold)>();
        for (int i = 0; i < embeddings.Count; i++)
        {
            var (v, w) = embeddings[i];
            var id = gallery.Identify(v, threshold, poseBands, Yaw(i));
            string key = id.Known ? id.Name! : "";
            votes[key] = votes.GetValueOrDefault(key) + w;
            if (!best.TryGetValue(key, out var b) || id.Distance - id.Threshold < b.Distance - b.Threshold) best[key] = (id.Distance, id.Threshold);
        }
        var winner = votes.MaxBy(p => p.Value).Key;
        return (winner.Length > 0 ? winner : null, winner.Length > 0, best[winner].Distance, best[winner].Threshold);
    }

    /// <summary>The mean distance between every face of one set and every face of the other: how tracks are clustered.</summary>
    public static double AverageDistance(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b, Metric metric)
    {
        double sum = 0;
        foreach (var x in a) foreach (var y in b) sum += Distance.Of(metric, x, y);
        return sum / (a.Count * b.Count);
    }

    /// <summary>
    /// The track joins the cluster whose faces are nearest on average (each pair of single faces, compared at
    /// the model's threshold as it was calibrated for), or starts a new one.
    /// </summary>
    private static int Cluster(List<List<float[]>> clusters, Track t, double threshold, Metric metric)
    {
        if (!t.Complete)
        {
            // only faces cut by the frame's edge: too little of the face to compare (the padding looks alike
            // across people), so the track stands alone and draws nobody else in
            clusters.Add([]);
            return clusters.Count;
        }
        var mine = t.Linked();
        int bestIndex = -1;
        double bestDistance = double.MaxValue;
        for (int c = 0; c < clusters.Count; c++)
        {
            if (clusters[c].Count == 0) continue;
            double d = AverageDistance(mine, clusters[c], metric);
            if (d < bestDistance) (bestDistance, bestIndex) = (d, c);
        }
        if (bestIndex >= 0 && bestDistance <= threshold)
        {
            clusters[bestIndex].AddRange(mine.Take(Math.Max(0, 4 * MaxLinked - clusters[bestIndex].Count)));
            return bestIndex + 1;
        }
        clusters.Add(mine);
        return clusters.Count;
    }

    private const int MaxLinked = 16;

    /// <summary>A face overlapping a track is split off when its distance to the track's faces exceeds the threshold by this factor.</summary>
    private const double SplitFactor = 1.15;

    /// <summary>Share of a face's surroundings (its box grown by a quarter each side) inside the frame for it to count as whole.</summary>
    private const double WholeFace = 0.9;

    /// <summary>How much of a face and its surroundings (the box grown by a quarter each side, as alignment takes it) is inside the frame.</summary>
    public static double Coverage(DetectedFace f, int width, int height)
    {
        double gx = f.Box.Width * 0.25, gy = f.Box.Height * 0.25;
        double x0 = f.Box.X - gx, y0 = f.Box.Y - gy, x1 = f.Box.X + f.Box.Width + gx, y1 = f.Box.Y + f.Box.Height + gy;
        double inside = Math.Max(0, Math.Min(x1, width) - Math.Max(x0, 0)) * Math.Max(0, Math.Min(y1, height) - Math.Max(y0, 0));
        return inside / Math.Max(1e-9, (x1 - x0) * (y1 - y0));
    }

    /// <summary>A detection's weight in its track: the detector's confidence, less for faces too small to embed well.</summary>
    public static double Quality(DetectedFace f) => Math.Max(0.01, f.Score) * Math.Min(1, Math.Min(f.Box.Width, f.Box.Height) / 80.0);

    /// <summary>The smallest N whose cost, per second of video, stays within 1 / target speed.</summary>
    private int ChooseEvery(double fps, double detectCost, double frameCost)
    {
        double budget = 1 / _options.TargetSpeed - fps * frameCost;
        int max = Math.Max(1, (int)(fps / 4)); // a track's start and end stay within a quarter second
        if (budget <= 0) return max;
        return Math.Clamp((int)Math.Ceiling(fps * detectCost / budget), 1, max);
    }

    private static double Mean(double mean, double x, long n) => n <= 1 ? x : mean + (x - mean) / Math.Min(n, 50);
}
