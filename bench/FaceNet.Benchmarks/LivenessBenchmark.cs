using System.Diagnostics;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Liveness;

namespace FaceNet.Benchmarks;

/// <summary>Milliseconds per face of the liveness check at one batch size: cutting the patches, and both networks on them.</summary>
public sealed record LivenessBenchResult(int Batch, double MsPerFace, double CropMsPerFace, double NetworkMsPerFace, int Runs, double PeakMemoryMb);

public static class LivenessBenchmark
{
    /// <summary>
    /// Faces to time: the subject of each photo (found once, not timed); without photos, a 640×480 frame of noise with
    /// a 200×240 face box in the middle (the networks cost the same whatever the pixels).
    /// </summary>
    public static IReadOnlyList<(Photo Photo, DetectedFace Face)> Faces(FaceRecognizer? recognizer, IReadOnlyList<string> photos)
    {
        if (photos.Count == 0 || recognizer is null)
        {
            var px = new byte[640 * 480 * 3];
            new Random(26).NextBytes(px);
            return [(Photo.Of(new RgbImage(640, 480, px), "<synthetic 640x480>"), new DetectedFace(new FaceBox(220, 120, 200, 240), 1, null))];
        }
        var faces = new List<(Photo, DetectedFace)>();
        foreach (var file in photos)
        {
            var photo = recognizer.Read(file);
            if (recognizer.DetectMain(photo).Face is { } face) faces.Add((photo, face));
        }
        return faces;
    }

    /// <summary>Batches of <paramref name="batch"/> faces (taken in turn from <paramref name="faces"/>) checked for at least <paramref name="seconds"/>.</summary>
    public static LivenessBenchResult Run(LivenessModel model, IReadOnlyList<(Photo Photo, DetectedFace Face)> faces, LivenessBoxMap boxes, int batch, double seconds)
    {
        if (faces.Count == 0) throw new ArgumentException("no faces to time");
        var work = Enumerable.Range(0, batch).Select(i => faces[i % faces.Count]).ToList();
        model.Score(work.Select(f => model.Prepare(f.Photo, f.Face, boxes)).ToList()); // warm-up: the first run allocates and plans
        long crop = 0, net = 0;
        int runs = 0;
        var total = Stopwatch.StartNew();
        while (runs < 5 || total.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            var inputs = work.Select(f => model.Prepare(f.Photo, f.Face, boxes)).ToList();
            long t1 = Stopwatch.GetTimestamp();
            model.Score(inputs);
            long t2 = Stopwatch.GetTimestamp();
            crop += t1 - t0;
            net += t2 - t1;
            runs++;
        }
        double n = (double)runs * batch;
        return new LivenessBenchResult(batch, Timing.Milliseconds(crop + net) / n, Timing.Milliseconds(crop) / n, Timing.Milliseconds(net) / n, runs,
            Timing.PeakMemoryMb());
    }
}
