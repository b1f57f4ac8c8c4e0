using System.Diagnostics;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Matching;

namespace FaceNet.Evaluation;

/// <summary>
/// Runs the verification protocol end to end: every distinct image is embedded once (detect → align →
/// embed, decode and detection in parallel, embedding in batches, optionally cached), then the pair
/// distances go through <see cref="Protocol"/>. A pair whose image has no detectable face gets an
/// infinite distance — the system could not match it — and is reported; it is never dropped.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "its caches without a folder hold no file")]
public sealed class Evaluator(FaceRecognizer pipeline, string pipelineKey, EvaluationOptions? options = null)
{
    private const string NoFace = "no face found";
    // the quality of a photo is cached with the version of the measure that scored it
    private static readonly string QualityKey = "-quality" + Quality.FaceQuality.Version;
    private readonly EvaluationOptions _options = options ?? new EvaluationOptions();
    // without a cache folder, this evaluator's own memory stands in for it: a file embedded once (a calibration's
    // pairs, then its impostor tail from the same people) is not embedded again
    private readonly EmbeddingCache _memory = new(null, pipelineKey), _memoryQuality = new(null, pipelineKey + QualityKey),
        _memoryPose = new(null, pipelineKey + "-pose");

    /// <summary>The embeddings of image files (null: no face), the quality of each file's face (<see cref="Quality.FaceQuality.Score"/>; NaN when not known), what failed.</summary>
    public sealed record Embeddings(IReadOnlyDictionary<string, float[]?> Vectors, IReadOnlyDictionary<string, double> Quality,
        IReadOnlyList<string> Failures, int Unreadable, int CenterCropped)
    {
        /// <summary>The pose of each file's face (<see cref="HeadPose"/>); missing where the face has no landmarks or none was found.</summary>
        public IReadOnlyDictionary<string, HeadPose> Poses { get; init; } = new Dictionary<string, HeadPose>();
    }

    /// <summary>Embeds every file's subject (decode and detection in parallel, embedding in batches, cached).</summary>
    public Embeddings Embed(IReadOnlyList<string> files)
    {
        var embeddings = new Dictionary<string, float[]?>(StringComparer.Ordinal);
        var quality = new Dictionary<string, double>(StringComparer.Ordinal);
        var poses = new Dictionary<string, HeadPose>(StringComparer.Ordinal);
        var failures = new List<string>();
        int centre = 0, done = 0, unreadable = 0;
        using var onDisk = _options.CacheDirectory is null ? null : new EmbeddingCache(_options.CacheDirectory, pipelineKey);
        using var qualitiesOnDisk = _options.CacheDirectory is null ? null : new EmbeddingCache(_options.CacheDirectory, pipelineKey
            + QualityKey); // one value per photo
        using var posesOnDisk = _options.CacheDirectory is null ? null : new EmbeddingCache(_options.CacheDirectory, pipelineKey + "-pose"); // yaw, pitch, roll
        var cache = onDisk ?? _memory;
        var qualities = qualitiesOnDisk ?? _memoryQuality;
        var poseCache = posesOnDisk ?? _memoryPose;
        const int chunk = 64;
        for (int start = 0; start < files.Count; start += chunk)
        {
            var slice = files.Skip(start).Take(chunk).ToArray();
            var keys = new string[slice.Length];
            var crops = new FaceCrops?[slice.Length];
            var errors = new string?[slice.Length];
            var fromCache = new bool[slice.Length];
            var centred = new bool[slice.Length];
            var scores = new double[slice.Length];
            var facePoses = new HeadPose?[slice.Length];
            Parallel.For(0, slice.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                try
                {
                    keys[i] = EmbeddingCache.FileKey(slice[i]);
                    // a face is taken from the cache with its quality and pose; one measured by an older quality measure is looked at again
                    bool vectorCached = cache.TryGet(keys[i], out var cached);
                    if (vectorCached && (cached is null || (qualities.TryGet(keys[i], out _) && poseCache.TryGet(keys[i], out _))))
                    {
                        fromCache[i] = true;
                        if (cached is null) errors[i] = NoFace;
                        return;
                    }
                    var photo = pipeline.Read(slice[i]);
                    DetectedFace? face = pipeline.DetectMain(photo).Face;
                    if (face is null && _options.FallbackCenterCrop)
                    {
                        float side = 0.6f * Math.Min(photo.Width, photo.Height);
                        face = new DetectedFace(new FaceBox((photo.Width - side) / 2, (photo.Height - side) / 2, side, side), 0, null);
                        centred[i] = true;
                    }
                    if (face is null) errors[i] = NoFace;
                    else
                    {
                        scores[i] = face.Quality?.Score ?? double.NaN;
                        facePoses[i] = centred[i] ? null : face.Pose;
                        if (vectorCached && !centred[i])
                        {
                            // the embedding is known: only the quality and pose are added
                            qualities.Add(keys[i], [(float)scores[i]]);
                            poseCache.Add(keys[i], facePoses[i] is { } q ? [(float)q.Yaw, (float)q.Pitch, (float)q.Roll] : null);
                            fromCache[i] = true;
                        }
                        else crops[i] = pipeline.Align(photo, face);
                    }
                }
                catch (ImageException e) { errors[i] = "unreadable: " + e.Reason; }
                catch (IOException e) { errors[i] = "unreadable: " + e.Message; }
            });
            var todo = Enumerable.Range(0, slice.Length).Where(i => crops[i] is not null).ToArray();
            var vectors = pipeline.Model.Embed(todo.Select(i => crops[i]!).ToList());
            for (int k = 0; k < todo.Length; k++)
            {
                embeddings[slice[todo[k]]] = vectors[k];
                quality[slice[todo[k]]] = scores[todo[k]];
                if (facePoses[todo[k]] is { } fp) poses[slice[todo[k]]] = fp;
                if (!centred[todo[k]])
                {
                    cache.Add(keys[todo[k]], vectors[k]); // centre crops depend on the option: not cached
                    qualities.Add(keys[todo[k]], [(float)scores[todo[k]]]);
                    poseCache.Add(keys[todo[k]], facePoses[todo[k]] is { } q ? [(float)q.Yaw, (float)q.Pitch, (float)q.Roll] : null);
                }
                if (centred[todo[k]]) centre++;
            }
            for (int i = 0; i < slice.Length; i++)
            {
                if (fromCache[i] && errors[i] is null && cache.TryGet(keys[i], out var v))
                {
                    embeddings[slice[i]] = v;
                    quality[slice[i]] = qualities.TryGet(keys[i], out var q) && q is [var score] ? score : double.NaN;
                    if (poseCache.TryGet(keys[i], out var pq) && pq is [var yaw, var pitch, var roll]) poses[slice[i]] = new HeadPose(Math.Round(yaw, 1), Math.Round(pitch, 1), Math.Round(roll, 1));
                }
                if (errors[i] is null) continue;
                embeddings[slice[i]] = null;
                failures.Add($"{slice[i]}: {errors[i]}");
                if (errors[i] != NoFace) unreadable++;
                if (errors[i] == NoFace && !fromCache[i] && keys[i] is not null) cache.Add(keys[i], null);
            }
            done += slice.Length;
            _options.Progress?.Invoke(done, files.Count);
        }
        return new Embeddings(embeddings, quality, failures, unreadable, centre) { Poses = poses };
    }

    public EvaluationReport Run(IReadOnlyList<LabeledPair> pairs)
    {
        var sw = Stopwatch.StartNew();
        var files = pairs.SelectMany(p => new[] { p.FileA, p.FileB }).Distinct(StringComparer.Ordinal).ToArray();
        var embedded = Embed(files);
        var (embeddings, _, failures, unreadable, centre) = embedded;

        var metric = pipeline.Model.Info.Metric;
        var distances = new double[pairs.Count];
        int failedPairs = 0;
        for (int i = 0; i < pairs.Count; i++)
        {
            var a = embeddings[pairs[i].FileA];
            var b = embeddings[pairs[i].FileB];
            if (a is null || b is null) { distances[i] = double.PositiveInfinity; failedPairs++; continue; }
            distances[i] = Distance.Of(metric, a, b);
        }
        var same = pairs.Select(p => p.Same).ToArray();
        var result = Protocol.Evaluate(distances, same, pairs.Select(p => p.Fold).ToArray(), _options.FarTarget);
        return new EvaluationReport(result, files.Length, failures.Count - unreadable, unreadable, failedPairs, centre,
            failures.ToList(), distances, same, sw.Elapsed.TotalSeconds, metric)
        {
            PoseDifferences = pairs.Select(p => embedded.Poses.TryGetValue(p.FileA, out var a) && embedded.Poses.TryGetValue(p.FileB, out var b)
                ? HeadPose.YawDifference(a, b) : double.NaN).ToArray(),
        };
    }
}
