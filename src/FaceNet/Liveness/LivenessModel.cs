using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Models;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Liveness;

/// <summary>
/// Passive liveness (presentation-attack detection) on one photo: a pair of small networks (Minivision's
/// MiniFASNetV2 on the face box grown 2.7 times and MiniFASNetV1SE on it grown 4.0 times, bundled) each
/// give the probability that the face is live; the score is their mean and a face at or above the pair's
/// threshold is live. Thread-safe. Made for print and screen replays held up to a camera; see README for
/// what it is not for.
/// </summary>
public sealed class LivenessModel : IDisposable
{
    /// <summary>The bundled pair: <c>models/minifasnet/</c>.</summary>
    public const string BundledName = "minifasnet";

    private readonly int _maxBatch;

    private LivenessModel(string location, IReadOnlyList<LivenessNetwork> networks, double? threshold, int maxBatch)
    {
        Location = location;
        Networks = networks;
        ThresholdGiven = threshold is not null;
        Threshold = threshold ?? networks[0].Info.Threshold;
        _maxBatch = Math.Max(1, maxBatch);
    }

    /// <summary>The folder or file the networks came from.</summary>
    public string Location { get; }

    public IReadOnlyList<LivenessNetwork> Networks { get; }

    /// <summary>The threshold on the mean live probability: the pair's own, or the one given.</summary>
    public double Threshold { get; }

    public bool ThresholdGiven { get; }

    /// <summary>The pair's name (<c>minifasnet</c>): the folder's, or the single network's.</summary>
    public string Name => Directory.Exists(Location) ? System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(Location)) : Networks[0].Info.Name;

    /// <summary>The rules that decide when a face cannot be judged.</summary>
    public LivenessLimits Limits { get; init; } = LivenessLimits.Default;

    /// <summary>What the threshold stands for (how it was chosen and the rates measured there, or that it was given).</summary>
    public string DescribeThreshold() => Networks[0].Info.DescribeThreshold(ThresholdGiven);

    /// <summary>
    /// Loads the networks: <paramref name="location"/> is a folder of liveness <c>.onnx</c> files (each with
    /// <c>facenet.task = liveness</c>; all of them form the pair), one such file, or null for the bundled pair.
    /// A problem is a <see cref="ModelException"/> naming the file.
    /// </summary>
    public static LivenessModel Load(string? location = null, double? threshold = null, int threads = 0, SessionOptions? sessionOptions = null,
        int maxBatch = 32)
    {
        var path = location ?? BundledModels.Folders().Select(f => System.IO.Path.Combine(f, BundledName)).FirstOrDefault(Directory.Exists)
            ?? throw new ModelException(BundledName, $"the bundled liveness models were not found under {string.Join(" or ", BundledModels.Folders())} (they come with the FaceNet.Models package)");
        string[] files;
        if (Directory.Exists(path))
        {
            files = Directory.GetFiles(path, "*.onnx").Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new ModelException(path, "folder holds no .onnx liveness networks");
        }
        else if (File.Exists(path)) files = [path];
        else throw new ModelException(path, "liveness model not found (a folder of liveness .onnx networks, or one such file)");
        var networks = new List<LivenessNetwork>();
        try
        {
            foreach (var f in files) networks.Add(LoadNetwork(f, threads, sessionOptions));
            networks.Sort((a, b) => a.Info.CropScale.CompareTo(b.Info.CropScale)); // the tightest patch first (2.7, then 4.0)
            var thresholds = networks.Select(n => n.Info.Threshold).Distinct().ToList();
            if (thresholds.Count > 1) throw new ModelException(path,
                $"its networks disagree on the pair's threshold ({string.Join(", ", networks.Select(n => $"{System.IO.Path.GetFileName(n.Path)}: {n.Info.Threshold}"))})");
            return new LivenessModel(path, networks, threshold, maxBatch);
        }
        catch
        {
            foreach (var n in networks) n.Dispose();
            throw;
        }
    }

    private static LivenessNetwork LoadNetwork(string file, int threads, SessionOptions? sessionOptions)
    {
        using var ours = sessionOptions is null ? OrtOptions.Create(threads) : null;
        InferenceSession session;
        try { session = new InferenceSession(file, sessionOptions ?? ours!); }
        catch (OnnxRuntimeException e) { throw new ModelException(file, "not a loadable ONNX model: " + e.Message.Split('\n')[0].Trim(), e); }
        try
        {
            var meta = session.ModelMetadata.CustomMetadataMap;
            if (!LivenessInfo.IsLiveness(meta)) throw new ModelException(file, $"not a liveness network (its metadata has no {LivenessInfo.KeyTask} = {LivenessInfo.TaskLiveness}; 'facenet import' writes it)");
            LivenessInfo info;
            try { info = LivenessInfo.FromMetadata(meta, new LivenessInfo { Name = System.IO.Path.GetFileNameWithoutExtension(file), Source = System.IO.Path.GetFileName(file) }); }
            catch (FormatException e) { throw new ModelException(file, "unusable liveness metadata: " + e.Message, e); }
            var input = session.InputMetadata.First().Value.Dimensions;
            if (input.Length != 4 || input[1] != 3 || (input[2] > 0 && input[2] != info.InputSize))
                throw new ModelException(file, $"its input is [{string.Join(",", input)}]; a liveness network takes [N,3,{info.InputSize},{info.InputSize}]");
            var output = session.OutputMetadata.First().Value.Dimensions;
            if (output.Length != 2 || (output[1] > 0 && output[1] != info.Classes.Count))
                throw new ModelException(file, $"its output is [{string.Join(",", output)}]; the metadata names {info.Classes.Count} classes");
            return new LivenessNetwork(file, session, info);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The crops of one face found in <paramref name="photo"/> (full-size coordinates), cut from the photo at
    /// full size as the reference cuts them, around the detector's box mapped onto the reference detector's
    /// (<paramref name="boxes"/>; null: the box as it is); says why when the face cannot be judged.
    /// </summary>
    public LivenessInput Prepare(Photo photo, DetectedFace face, LivenessBoxMap? boxes = null)
    {
        var image = photo.Scale >= 1 ? photo.Image : photo.AtLeast(1).Image;
        var box = boxes?.Map(face) ?? face.Box;
        var patches = Networks.Select(n => LivenessPatch.Of(image.Width, image.Height, box, n.Info.CropScale)).ToList();
        var crops = patches.Select((p, i) => p.Cut(image, Networks[i].Info.InputSize)).ToList();
        return new LivenessInput(face, box, patches, crops, Limits.Unjudged(image, box, Networks.Max(n => n.Info.CropScale)));
    }

    /// <summary>The verdicts of prepared faces: each network runs once over all of them (in batches).</summary>
    public IReadOnlyList<LivenessResult> Score(IReadOnlyList<LivenessInput> inputs)
    {
        if (inputs.Count == 0) return [];
        var live = new double[inputs.Count][];
        for (int i = 0; i < inputs.Count; i++) live[i] = new double[Networks.Count];
        for (int k = 0; k < Networks.Count; k++)
        {
            var probs = Networks[k].Probabilities(inputs.Select(x => x.Crops[k]).ToList(), _maxBatch);
            for (int i = 0; i < inputs.Count; i++) live[i][k] = probs[i][Networks[k].Info.LiveClass];
        }
        return inputs.Select((x, i) =>
        {
            double score = live[i].Average();
            return new LivenessResult(x.Face, x.Unjudged is null ? score >= Threshold : null, score, Threshold, x.Unjudged)
            {
                NetworkScores = live[i], ReferenceBox = x.ReferenceBox,
            };
        }).ToList();
    }

    /// <summary>The verdict on each face of a photo (full-size coordinates).</summary>
    public IReadOnlyList<LivenessResult> Check(Photo photo, IReadOnlyList<DetectedFace> faces, LivenessBoxMap? boxes = null)
        => Score(faces.Select(f => Prepare(photo, f, boxes)).ToList());

    /// <summary>
    /// Writes a copy of the networks carrying another threshold and what it stands for (what <c>facenet calibrate --liveness</c>
    /// writes): into the folder <paramref name="output"/> for a pair, or to the file <paramref name="output"/> for one network.
    /// Returns the files written.
    /// </summary>
    public IReadOnlyList<string> SaveWithThreshold(string output, double threshold, double? apcer, double? bpcer, string calibration)
    {
        bool folder = Networks.Count > 1 || Directory.Exists(output);
        if (folder)
        {
            if (File.Exists(output)) throw new OutputFileException(output, "is a file; a pair of liveness networks is written into a folder");
            Directory.CreateDirectory(output);
        }
        var meta = new List<KeyValuePair<string, string>>
        {
            new(LivenessInfo.KeyThreshold, threshold.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
            new(LivenessInfo.KeyCalibration, calibration),
        };
        if (apcer is { } a) meta.Add(new(LivenessInfo.KeyThresholdApcer, a.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        if (bpcer is { } b) meta.Add(new(LivenessInfo.KeyThresholdBpcer, b.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        var written = new List<string>();
        foreach (var net in Networks)
        {
            var target = folder ? System.IO.Path.Combine(output, System.IO.Path.GetFileName(net.Path)) : output;
            byte[] bytes;
            try { bytes = File.ReadAllBytes(net.Path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ModelException(net.Path, e.Message, e); }
            AtomicFile.Write(target, Onnx.OnnxModelFile.WithMetadata(bytes, meta, net.Path,
                remove: [LivenessInfo.KeyThresholdApcer, LivenessInfo.KeyThresholdBpcer]));
            written.Add(target);
        }
        return written;
    }

    public void Dispose()
    {
        foreach (var n in Networks) n.Dispose();
    }
}
