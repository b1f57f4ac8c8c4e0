using System.Diagnostics;

namespace FaceNet.Benchmarks;

/// <summary>Small helpers shared by the benchmarks.</summary>
public static class Timing
{
    /// <summary>The p-quantile (0–1) of a sample, nearest rank.</summary>
    public static double Quantile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
    }

    /// <summary>The process's peak working set so far, in MB.</summary>
    public static double PeakMemoryMb() => Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);

    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
