using System.Diagnostics;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Benchmarks;

/// <summary>Photos per second end to end, and where the time goes per photo.</summary>
public sealed record PipelineResult(int Images, int Parallel, double ImagesPerSecond, double MeanMegapixels,
    double DecodeMs, double DetectMs, double AlignEmbedMs, int Misses, IReadOnlyList<ImageException> Unreadable);

public static class PipelineBenchmark
{
    /// <summary>
    /// Decode → detect → align + embed (the main face) of every photo, <paramref name="parallel"/> at a time,
    /// twice: the first pass warms up ONNX Runtime and the JIT, the second is measured. Photos are read into
    /// memory first, so disk speed is not part of it.
    /// </summary>
    public static PipelineResult Run(FaceRecognizer faces, IReadOnlyList<string> files, int parallel)
    {
        var unreadableFiles = new List<ImageException>();
        var bytes = files.Select(f =>
        {
            try { return File.ReadAllBytes(f); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                unreadableFiles.Add(new ImageException(f, e is FileNotFoundException ? "file not found" : e.Message, e));
                return null;
            }
        }).ToArray();
        long decode = 0, detect = 0, embed = 0, pixels = 0;
        int found = 0, misses = 0;
        double wall = 0;
        var unreadable = new List<ImageException>();
        for (int pass = 0; pass < 2; pass++)
        {
            decode = detect = embed = pixels = 0; found = misses = 0;
            unreadable.Clear();
            unreadable.AddRange(unreadableFiles);
            var total = Stopwatch.StartNew();
            Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
            {
                long t0 = Stopwatch.GetTimestamp();
                Photo photo;
                if (bytes[i] is null) return;
                try { photo = faces.Read(bytes[i]!, files[i]); }
                catch (ImageException e) { lock (unreadable) unreadable.Add(e); return; }
                long t1 = Stopwatch.GetTimestamp();
                var detected = faces.Detect(photo);
                long t2 = Stopwatch.GetTimestamp();
                Interlocked.Add(ref decode, t1 - t0);
                Interlocked.Add(ref detect, t2 - t1);
                Interlocked.Add(ref pixels, (long)photo.Width * photo.Height);
                if (detected.Count == 0) { Interlocked.Increment(ref misses); return; }
                // (a face too small in the first decode is decoded again larger: counted here)
                faces.Embed(photo, [PhotoSubject.Of(detected, photo.Width, photo.Height).Face!]);
                Interlocked.Add(ref embed, Stopwatch.GetTimestamp() - t2);
                Interlocked.Increment(ref found);
            });
            wall = total.Elapsed.TotalSeconds;
        }
        int n = files.Count;
        return new PipelineResult(n, parallel, n / wall, pixels / (double)Math.Max(1, n) / 1e6,
            Timing.Milliseconds(decode) / Math.Max(1, n), Timing.Milliseconds(detect) / Math.Max(1, n), Timing.Milliseconds(embed) / Math.Max(1, found),
            misses, unreadable);
    }
}
