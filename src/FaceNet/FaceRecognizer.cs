using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Matching;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet;

/// <summary>Options of <see cref="FaceRecognizer.Create"/>; the defaults are the bundled detector and model.</summary>
public sealed record FaceRecognizerOptions
{
    /// <summary>A bundled model's name (<c>fused</c>, <c>mobilefacenet</c>, <c>faceapi-resnet</c>), an <c>.onnx</c> face model, or a fused model's <c>.json</c>; null: the default.</summary>
    public string? Model { get; init; }

    /// <summary><c>yunet+onet</c> (default), <c>yunet</c>, <c>mtcnn</c> or <c>haar</c>.</summary>
    public string? Detector { get; init; }

    /// <summary>ONNX Runtime intra-op threads per network; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int Threads { get; init; }

    /// <summary>The detector's own thread count when it should differ from <see cref="Threads"/> (a service detecting several photos at once wants 1).</summary>
    public int? DetectorThreads { get; init; }

    /// <summary>A same-person threshold instead of the model's own.</summary>
    public double? Threshold { get; init; }

    /// <summary>Test-time flip averaging for every network of the model (the default model already flips).</summary>
    public bool Flip { get; init; }

    /// <summary>ONNX Runtime session options (execution providers, …) for the embedding networks; the caller keeps ownership.</summary>
    public SessionOptions? SessionOptions { get; init; }

    /// <summary>Size limits for the images decoded from paths, streams and bytes.</summary>
    public ImageLimits? ImageLimits { get; init; }

    /// <summary>Lower-level model options (alignment or preprocessing overrides, weights imported on the fly); its threads, threshold and flip give way to the ones above.</summary>
    public FaceModelOptions? ModelOptions { get; init; }
}

/// <summary>Which faces of two photos <see cref="FaceRecognizer.Compare(string, string, FacePick)"/> compares.</summary>
public enum FacePick
{
    /// <summary>The subject of each photo (<see cref="MainFace"/>): the largest face, preferring the centre.</summary>
    Main,

    /// <summary>The closest pair among all faces of the two photos (is this person anywhere in that group photo?).</summary>
    BestMatch,
}

/// <summary>A face found in an image, with its embedding (unit length).</summary>
public sealed record FaceEmbedding(int Index, DetectedFace Face, float[] Vector)
{
    public FaceBox Box => Face.Box;
    public float Score => Face.Score;
}

/// <summary>There is no face where one is needed: the message names the image.</summary>
public sealed class NoFaceException(string file) : ImageException(file, "no face found");

/// <summary>
/// Face recognition in one object: detect → align → embed → compare, with the bundled detector and
/// default model unless told otherwise. One instance is safe to share between threads (the networks run
/// on thread-safe ONNX Runtime sessions); create it once, it loads the networks.
/// <code>
/// using var faces = FaceRecognizer.Create();
/// Verification v = faces.Compare("a.jpg", "b.jpg");     // v.Distance, v.Threshold, v.Same
/// IReadOnlyList&lt;FaceEmbedding&gt; e = faces.Embed("group.jpg");
/// </code>
/// </summary>
public sealed class FaceRecognizer : IDisposable
{
    private readonly ImageLimits _limits;

    private FaceRecognizer(IFaceDetector detector, FaceModel model, ImageLimits? limits)
    {
        Detector = detector;
        Model = model;
        _limits = limits ?? ImageLimits.Default;
    }

    /// <summary>Loads the detector and the model. Throws <see cref="ModelException"/> naming the file when a model cannot be used.</summary>
    public static FaceRecognizer Create(FaceRecognizerOptions? options = null)
    {
        options ??= new FaceRecognizerOptions();
        var modelOptions = (options.ModelOptions ?? new FaceModelOptions()) with
        {
            Threads = options.Threads,
            Threshold = options.Threshold ?? options.ModelOptions?.Threshold,
            Flip = options.Flip || options.ModelOptions?.Flip == true,
            SessionOptions = options.SessionOptions ?? options.ModelOptions?.SessionOptions,
        };
        var model = FaceModel.Load(options.Model, modelOptions);
        try { return new FaceRecognizer(Detectors.Create(options.Detector, options.DetectorThreads ?? options.Threads), model, options.ImageLimits); }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A recognizer over a detector and a model the caller made; it disposes them.</summary>
    public static FaceRecognizer From(IFaceDetector detector, FaceModel model, ImageLimits? limits = null) => new(detector, model, limits);

    public IFaceDetector Detector { get; }
    public FaceModel Model { get; }

    /// <summary>The same-person threshold in use: the model's, or the one given.</summary>
    public double Threshold => Model.Info.Threshold;

    // ----- images -----

    public RgbImage Load(string path) => ImageDecoder.Load(path, _limits);
    public RgbImage Load(Stream stream, string name = "<stream>") => ImageDecoder.Load(stream, name, _limits);
    public RgbImage Load(byte[] bytes, string name = "<bytes>") => ImageDecoder.Decode(bytes, name, _limits);

    // ----- detection -----

    /// <summary>Every face: box, score and five landmarks (when the detector gives them), largest first.</summary>
    public IReadOnlyList<DetectedFace> Detect(RgbImage image) => Detector.Detect(image);
    public IReadOnlyList<DetectedFace> Detect(string path) => Detect(Load(path));
    public IReadOnlyList<DetectedFace> Detect(Stream stream) => Detect(Load(stream));
    public IReadOnlyList<DetectedFace> Detect(byte[] bytes) => Detect(Load(bytes));

    // ----- embedding -----

    /// <summary>Every face of the image with its embedding, largest first; empty when there is none.</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image) => Embed(image, Detector.Detect(image));
    public IReadOnlyList<FaceEmbedding> Embed(string path) => Embed(Load(path));
    public IReadOnlyList<FaceEmbedding> Embed(Stream stream) => Embed(Load(stream));
    public IReadOnlyList<FaceEmbedding> Embed(byte[] bytes) => Embed(Load(bytes));

    /// <summary>Embeddings of faces already found in the image (one batch per network).</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image, IReadOnlyList<DetectedFace> faces)
    {
        var vectors = Model.Embed(faces.Select(f => Model.Align(image, f)).ToList());
        return faces.Select((f, i) => new FaceEmbedding(i, f, vectors[i])).ToList();
    }

    /// <summary>The photo's subject (<see cref="MainFace"/>), with the number of faces the photo holds; <see cref="NoFaceException"/> when none.</summary>
    public (FaceEmbedding Face, int FacesFound) EmbedMain(RgbImage image, string name = "<image>")
    {
        var faces = Detector.Detect(image);
        if (faces.Count == 0) throw new NoFaceException(name);
        int main = MainFace.Index(faces, image.Width, image.Height);
        return (Embed(image, [faces[main]])[0] with { Index = main }, faces.Count);
    }

    /// <summary>The embedding of an image that already is a face crop: no detection, no alignment.</summary>
    public float[] EmbedCrop(RgbImage crop) => Model.Embed(Model.FromCrop(crop));

    // ----- verification -----

    /// <summary>Same person or not: two embeddings against the threshold, under the model's metric.</summary>
    public Verification Verify(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => new(Distance.Of(Model.Info.Metric, a, b), Threshold, Model.Info.Metric);

    /// <summary>Are the two photos of the same person? <see cref="NoFaceException"/> names a photo without a face.</summary>
    public Verification Compare(string a, string b, FacePick pick = FacePick.Main) => Compare(Load(a), Load(b), pick, a, b);
    public Verification Compare(Stream a, Stream b, FacePick pick = FacePick.Main) => Compare(Load(a, "<stream a>"), Load(b, "<stream b>"), pick, "<stream a>", "<stream b>");
    public Verification Compare(byte[] a, byte[] b, FacePick pick = FacePick.Main) => Compare(Load(a, "<bytes a>"), Load(b, "<bytes b>"), pick, "<bytes a>", "<bytes b>");

    public Verification Compare(RgbImage a, RgbImage b, FacePick pick = FacePick.Main, string nameA = "<image a>", string nameB = "<image b>")
    {
        if (pick == FacePick.Main)
        {
            var (fa, na) = EmbedMain(a, nameA);
            var (fb, nb) = EmbedMain(b, nameB);
            return Verify(fa.Vector, fb.Vector) with { A = fa, B = fb, FacesInA = na, FacesInB = nb };
        }
        var all = Embed(a);
        if (all.Count == 0) throw new NoFaceException(nameA);
        var other = Embed(b);
        if (other.Count == 0) throw new NoFaceException(nameB);
        Verification? best = null;
        foreach (var x in all)
            foreach (var y in other)
            {
                var v = Verify(x.Vector, y.Vector);
                if (best is null || v.Distance < best.Distance) best = v with { A = x, B = y };
            }
        return best! with { FacesInA = all.Count, FacesInB = other.Count };
    }

    public void Dispose()
    {
        Detector.Dispose();
        Model.Dispose();
    }
}
