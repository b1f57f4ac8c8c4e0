using System.Diagnostics;
using FaceNet.Embedding;
using FaceNet.Imaging;

namespace FaceNet.Benchmarks;

/// <summary>Faces per second of one network at one batch size, after a warm-up run.</summary>
public sealed record NetworkResult(int Batch, double FacesPerSecond, double MsPerBatch, int Runs, double PeakMemoryMb);

public static class NetworkBenchmark
{
    /// <summary>Random face crops of the network's input size, embedded in batches of <paramref name="batch"/> for at least <paramref name="seconds"/>.</summary>
    public static NetworkResult Run(FaceEmbedder embedder, int batch, double seconds)
    {
        var rng = new Random(7);
        int size = embedder.Info.InputSize;
        var faces = Enumerable.Range(0, batch).Select(_ =>
        {
            var px = new byte[size * size * 3];
            rng.NextBytes(px);
            return new RgbImage(size, size, px);
        }).ToArray();
        embedder.Embed(faces); // warm-up: the first run allocates and plans
        var sw = Stopwatch.StartNew();
        long count = 0;
        int runs = 0;
        while (runs < 3 || sw.Elapsed.TotalSeconds < seconds)
        {
            embedder.Embed(faces);
            count += batch;
            runs++;
        }
        return new NetworkResult(batch, count / sw.Elapsed.TotalSeconds, sw.Elapsed.TotalMilliseconds / runs, runs, Timing.PeakMemoryMb());
    }
}
