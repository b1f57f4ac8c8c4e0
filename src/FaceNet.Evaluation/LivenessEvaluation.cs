using System.Collections.Concurrent;
using System.Diagnostics;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Liveness;

namespace FaceNet.Evaluation;

/// <summary>
/// Liveness measured as ISO/IEC 30107-3 names it, on folders of live photos and of attacks (photos of photos or of
/// screens): each photo's subject is found and judged by the recognizer's liveness check, then APCER, BPCER and ACER
/// at a threshold, BPCER at APCER 5 % and 1 %, and a DET curve; and the thresholds for a target APCER or BPCER
/// (what <c>facenet calibrate --liveness</c> writes).
/// </summary>
public static class LivenessEvaluation
{
    /// <summary>The subject of each photo judged (photos in parallel); unreadable photos are reported in <paramref name="failures"/>, not scored.</summary>
    public static IReadOnlyList<LivenessSample> Score(FaceRecognizer faces, IReadOnlyList<string> live, IReadOnlyList<string> attacks,
        ConcurrentBag<string> failures, Action<int, int>? progress = null, int parallelism = 0)
    {
        var work = live.Select(f => (File: f, Attack: false)).Concat(attacks.Select(f => (File: f, Attack: true))).ToList();
        var samples = new LivenessSample?[work.Count];
        int done = 0;
        Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount }, i =>
        {
            var (file, attack) = work[i];
            try
            {
                var photo = faces.Read(file);
                var subject = faces.DetectMain(photo);
                if (subject.Face is not { } face) samples[i] = new LivenessSample(file, attack, null, null);
                else
                {
                    var r = faces.CheckLiveness(photo, face);
                    samples[i] = new LivenessSample(file, attack, r.Score, r.Live is null ? r.Reason : null) { NetworkScores = r.NetworkScores, Box = face.Box };
                }
            }
            catch (ImageException e) { failures.Add($"{e.File}: {e.Reason}"); }
            progress?.Invoke(Interlocked.Increment(ref done), work.Count);
        });
        return samples.Where(s => s is not null).Select(s => s!).ToList();
    }

    /// <summary>The rates at <paramref name="threshold"/>: a judged face is live at or above it.</summary>
    public static LivenessRates At(IReadOnlyList<LivenessSample> samples, double threshold)
    {
        var faces = samples.Where(s => !s.NoFace).ToList();
        var attacks = faces.Where(s => s.Attack).ToList();
        var live = faces.Where(s => !s.Attack).ToList();
        return new LivenessRates(threshold, attacks.Count, live.Count,
            attacks.Count(s => s.Judged && s.Score >= threshold),
            live.Count(s => !s.Judged || s.Score < threshold),
            attacks.Count(s => !s.Judged), live.Count(s => !s.Judged));
    }

    /// <summary>
    /// The lowest threshold (to 6 decimals) at which at most <paramref name="apcer"/> of the attacks are accepted, with the
    /// rates there; null without attacks.
    /// </summary>
    public static LivenessRates? AtApcer(IReadOnlyList<LivenessSample> samples, double apcer)
    {
        var attacks = samples.Where(s => s.Attack && !s.NoFace).ToList();
        if (attacks.Count == 0) return null;
        int allowed = (int)Math.Floor(apcer * attacks.Count + 1e-9);
        var scores = attacks.Where(s => s.Judged).Select(s => s.Score!.Value).OrderByDescending(v => v).ToList();
        // every judged attack may pass: the threshold accepts every judged face
        if (allowed >= scores.Count) return At(samples, 0);
        // just above the first attack that must be stopped (rounded up, so the written threshold still stops it)
        double t = Math.Min(1, (Math.Floor(scores[allowed] * 1e6) + 1) / 1e6);
        return At(samples, t);
    }

    /// <summary>
    /// The highest threshold (to 6 decimals) at which at most <paramref name="bpcer"/> of the live faces are refused, with
    /// the rates there; null without live faces, or when the faces that cannot be judged alone refuse more than that.
    /// </summary>
    public static LivenessRates? AtBpcer(IReadOnlyList<LivenessSample> samples, double bpcer)
    {
        var live = samples.Where(s => !s.Attack && !s.NoFace).ToList();
        if (live.Count == 0) return null;
        int allowed = (int)Math.Floor(bpcer * live.Count + 1e-9) - live.Count(s => !s.Judged);
        if (allowed < 0) return null;
        var scores = live.Where(s => s.Judged).Select(s => s.Score!.Value).OrderBy(v => v).ToList();
        if (allowed >= scores.Count) return At(samples, 1);
        double t = Math.Floor(scores[allowed] * 1e6) / 1e6; // the first live face that must pass, rounded down
        return At(samples, t);
    }

    /// <summary>APCER and BPCER at every threshold that changes them (the DET curve), lowest threshold first.</summary>
    public static IReadOnlyList<LivenessRates> Curve(IReadOnlyList<LivenessSample> samples)
    {
        var thresholds = samples.Where(s => s.Judged).Select(s => s.Score!.Value).Append(0).Append(Math.BitIncrement(1.0)).Distinct().Order().ToList();
        return thresholds.Select(t => At(samples, t)).ToList();
    }

    /// <summary>Scores the photos and measures them at <paramref name="threshold"/> (null: the recognizer's liveness threshold).</summary>
    public static LivenessReport Evaluate(FaceRecognizer faces, IReadOnlyList<string> live, IReadOnlyList<string> attacks, double? threshold = null,
        Action<int, int>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var failures = new ConcurrentBag<string>();
        var samples = Score(faces, live, attacks, failures, progress);
        return Report(samples, threshold ?? faces.Liveness.Threshold, failures.Order(StringComparer.Ordinal).ToList(), sw.Elapsed.TotalSeconds);
    }

    /// <summary>The figures of samples already scored.</summary>
    public static LivenessReport Report(IReadOnlyList<LivenessSample> samples, double threshold, IReadOnlyList<string>? failures = null, double seconds = 0)
        => new(samples, At(samples, threshold), AtApcer(samples, 0.05), AtApcer(samples, 0.01), Curve(samples), failures ?? [], seconds);

    /// <summary>The photos of a folder (searched recursively) in name order; a folder without one is an error naming it.</summary>
    public static IReadOnlyList<string> Photos(string folder)
    {
        if (!Directory.Exists(folder)) throw new ImageException(folder, "folder not found");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImageFile).Order(StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files : throw new ImageException(folder, "folder holds no image files");
    }

    /// <summary>Per photo, one CSV line: file, label (live|attack), score, each network's score, the reason it was not judged.</summary>
    public static string Csv(IReadOnlyList<LivenessSample> samples)
    {
        static string Q(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
        var sb = new System.Text.StringBuilder("file,label,score,network_scores,unjudged\n");
        foreach (var s in samples)
            sb.Append(Q(s.File)).Append(',').Append(s.Attack ? "attack" : "live").Append(',')
                .Append(s.Score?.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture) ?? "").Append(',')
                .Append(string.Join(' ', s.NetworkScores.Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)))).Append(',')
                .Append(s.NoFace ? "no face" : Q(s.Unjudged ?? "")).Append('\n');
        return sb.ToString();
    }
}
