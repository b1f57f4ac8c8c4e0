using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Training;

/// <summary>
/// <c>facenet train</c>: faces from folders embedded by the base model, a head trained on some people with
/// the triplet loss and checked on others, written as one ONNX model with the threshold chosen on the
/// validation people.
/// </summary>
public static class HeadTraining
{
    /// <summary>
    /// Every photo of every sub-folder, its main face embedded by the recognizer's (single-network) model, or
    /// taken from <paramref name="cache"/> (keyed by the photo's SHA-256) when it was embedded before.
    /// </summary>
    public static FaceSet Load(FaceRecognizer recognizer, string root, Action<string>? progress = null, Embedding.IEmbeddingCache? cache = null)
    {
        var folders = PeopleFolder.Read(root);
        var people = new List<string>();
        var faces = new List<(int, float[])>();
        int skipped = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var folder in folders)
        {
            int person = people.Count;
            people.Add(folder.Name);
            foreach (var file in folder.Files)
            {
                try
                {
                    var key = FileHash.Sha256(file);
                    if (cache is null || !cache.TryGet(key, out var vector))
                    {
                        var photo = recognizer.Read(file);
                        vector = recognizer.DetectMain(photo).Face is { } face ? recognizer.Embed(photo, [face])[0].Vector : null;
                        cache?.Add(key, vector);
                    }
                    if (vector is null) { skipped++; continue; }
                    faces.Add((person, vector));
                    sha.AppendData(Encoding.UTF8.GetBytes(people[person] + "/" + Path.GetFileName(file) + ":" + key + "\n"));
                }
                catch (ImageException) { skipped++; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { skipped++; }
            }
            if (people.Count % 50 == 0) progress?.Invoke($"{people.Count} people, {faces.Count} faces embedded");
        }
        return new FaceSet(people, faces, skipped, Convert.ToHexStringLower(sha.GetHashAndReset())[..16]);
    }

    /// <summary>
    /// The whole of <c>facenet train</c>: <see cref="LoadFolders"/>, then <see cref="Train"/> into <paramref name="output"/>.
    /// <paramref name="note"/> hears what was embedded; <paramref name="progress"/> each epoch.
    /// </summary>
    public static TrainedModel FromFolders(FaceRecognizer recognizer, string folders, string? validationFolders, string output, TrainingOptions options,
        Embedding.IEmbeddingCache? cache = null, Action<string>? note = null, Action<EpochRecord, int>? progress = null)
    {
        var (train, valid) = LoadFolders(recognizer, folders, validationFolders, options.Seed, cache, note);
        return Train(recognizer, train, valid, output, options, progress);
    }

    /// <summary>
    /// The training and validation people of <c>facenet train</c>: the people of <paramref name="folders"/> embedded (or read
    /// from <paramref name="cache"/>), validated on <paramref name="validationFolders"/> or, without them, on one person in five
    /// held out (by <paramref name="seed"/>). <paramref name="note"/> hears what was embedded, and how long it took.
    /// </summary>
    public static (FaceSet Train, FaceSet Validation) LoadFolders(FaceRecognizer recognizer, string folders, string? validationFolders, int seed,
        Embedding.IEmbeddingCache? cache = null, Action<string>? note = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var all = Load(recognizer, folders, note, cache);
        var (train, valid) = validationFolders is null ? SplitPeople(all, 5, seed) : (all, Load(recognizer, validationFolders, cache: cache));
        note?.Invoke($"{all.Faces.Count + (validationFolders is null ? 0 : valid.Faces.Count)} faces embedded (or read from the cache) in "
            + $"{clock.Elapsed.TotalSeconds:0.0} s; training on {train.People.Count} people ({train.Faces.Count} faces), validating on "
            + $"{valid.People.Count} others ({valid.Faces.Count} faces); {all.Skipped} photos without a face or unreadable");
        return (train, valid);
    }

    /// <summary>
    /// Trains on <paramref name="train"/>, stops early and picks the threshold on <paramref name="validation"/>
    /// (other people), and writes base + head as <paramref name="output"/>.
    /// </summary>
    public static TrainedModel Train(FaceRecognizer recognizer, FaceSet train, FaceSet validation, string output,
        TrainingOptions options, Action<EpochRecord, int>? progress = null)
    {
        var model = recognizer.Model;
        if (model.IsFused) throw new ArgumentException("training needs one network as its base, not a fused model: mobilefacenet, faceapi-resnet or an .onnx");
        var overlap = train.People.Intersect(validation.People).ToList();
        if (overlap.Count > 0) throw new ArgumentException($"the validation people must not be training people ({overlap.Count} in both, e.g. {overlap[0]})");
        var result = TripletTrainer.Train(train.Faces, validation.Faces, options, progress);
        var embedder = model.Members[0].Embedder;
        var info = embedder.Info with
        {
            Name = Path.GetFileNameWithoutExtension(output),
            Source = $"{embedder.Info.Name} + triplet-trained {options.Head.ToString().ToLowerInvariant()} head",
            EmbeddingSize = result.Head.OutputSize,
            Alignment = model.Members[0].Alignment.Text,
            Metric = Matching.Metric.Euclidean,
            Threshold = result.Best.Threshold,
            ThresholdFar = null,
            ThresholdFrr = null,
            Calibration = $"balanced-accuracy threshold on the validation people ({validation.People.Count} people, {result.Best.SamePairs} same and {result.Best.DifferentPairs} different pairs)",
            IdentityAliases = [],
        };
        string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
        var meta = info.ToMetadata().Concat(new Dictionary<string, string>
        {
            ["facenet.training_base"] = model.Identity,
            ["facenet.training_data"] = $"{train.People.Count} people, {train.Faces.Count} faces, sha256 {train.Hash}",
            ["facenet.training_head"] = options.Head.ToString().ToLowerInvariant(),
            ["facenet.training_margin"] = F(options.Margin),
            ["facenet.training_epochs"] = $"{result.BestEpoch} kept of {result.History.Count} run",
            ["facenet.training_seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["facenet.training_validation"] = $"VAL@FAR={F(options.Far)} {F(result.Best.Val)} (base {F(result.Base.Val)}), balanced accuracy {F(result.Best.Accuracy)} (base {F(result.Base.Accuracy)}); {validation.People.Count} people, {validation.Faces.Count} faces, sha256 {validation.Hash}",
        });
        AtomicFile.Write(output, HeadExport.Append(embedder.OnnxBytes(), result.Head, meta, output));
        return new TrainedModel(output, result, result.Best.Threshold, train.People.Count, train.Faces.Count, validation.People.Count, validation.Faces.Count);
    }

    /// <summary>Splits a face set by people: every <paramref name="every"/>-th person (from a seeded order) goes to the second set.</summary>
    public static (FaceSet Train, FaceSet Validation) SplitPeople(FaceSet set, int every, int seed)
    {
        var rng = new Random(seed);
        var order = Enumerable.Range(0, set.People.Count).OrderBy(_ => rng.Next()).ToList();
        var held = order.Where((_, i) => i % every == 0).ToHashSet();
        FaceSet Part(bool validation)
        {
            var ids = Enumerable.Range(0, set.People.Count).Where(p => held.Contains(p) == validation).ToList();
            var map = ids.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
            return new FaceSet(ids.Select(p => set.People[p]).ToList(),
                set.Faces.Where(f => map.ContainsKey(f.Person)).Select(f => (map[f.Person], f.X)).ToList(), 0, set.Hash + (validation ? "-v" : "-t"));
        }
        return (Part(false), Part(true));
    }
}
