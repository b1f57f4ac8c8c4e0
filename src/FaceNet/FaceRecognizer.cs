using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Liveness;
using FaceNet.Matching;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet;

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
    /// <summary>See <see cref="FaceRecognizerOptions.AlignmentDetail"/>.</summary>
    public const double DefaultAlignmentDetail = 2.0;

    private readonly ImageLimits _limits;
    private readonly double _detail;
    private readonly int _largestInput;
    private readonly Lazy<LivenessModel> _liveness;

    private FaceRecognizer(IFaceDetector detector, FaceModel model, ImageLimits? limits, double detail = DefaultAlignmentDetail,
        FaceRecognizerOptions? options = null)
    {
        Detector = detector;
        Model = model;
        _limits = limits ?? ImageLimits.Default;
        _detail = detail;
        _largestInput = model.Members.Max(m => m.Embedder.Info.InputSize);
        options ??= new FaceRecognizerOptions();
        if (options.MaxFaces is < 1) throw new SettingException(nameof(FaceRecognizerOptions.MaxFaces), "at least 1 face per photo");
        MaxFaces = options.MaxFaces;
        RequiresLive = options.RequireLive;
        LivenessUnjudged = options.LivenessUnjudged;
        _liveness = new Lazy<LivenessModel>(() => FaceNet.Liveness.LivenessModel.Load(options.LivenessModel, options.LivenessThreshold,
            options.Threads, options.SessionOptions, options.MaxBatch), LazyThreadSafetyMode.ExecutionAndPublication);
        if (RequiresLive) _ = _liveness.Value; // a missing or broken liveness model is found now, not at the first face
    }

    /// <summary>Faces of one photo kept at most (<see cref="FaceRecognizerOptions.MaxFaces"/>); null: every face.</summary>
    public int? MaxFaces { get; }

    /// <summary>Loads the detector and the model. Throws <see cref="ModelException"/> naming the file when a model cannot be used.</summary>
    public static FaceRecognizer Create(FaceRecognizerOptions? options = null)
    {
        options ??= new FaceRecognizerOptions();
        var model = LoadModel(options);
        try { return new FaceRecognizer(Detectors.Create(options.Detector,
            options.DetectorThreads ?? options.Threads), model, options.ImageLimits, options.AlignmentDetail, options); }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The face model <paramref name="options"/> ask for: the one place they are resolved into the model layer's settings.</summary>
    public static FaceModel LoadModel(FaceRecognizerOptions options) => FaceModel.Load(options.Model, ModelSettings(options));

    /// <summary>What the model layer takes from the recognizer's options.</summary>
    internal static FaceModelOptions ModelSettings(FaceRecognizerOptions options) => new()
    {
        Threads = options.Threads, Threshold = options.Threshold, Flip = options.Flip, SessionOptions = options.SessionOptions,
        Alignment = options.Alignment, Preprocess = options.Preprocess, ImportWeights = options.ImportWeights, MaxBatch = options.MaxBatch,
    };

    /// <summary>
    /// A recognizer over a detector and a model the caller made; it disposes them. <paramref name="options"/>
    /// gives the liveness settings (<see cref="FaceRecognizerOptions.RequireLive"/> and the liveness model) when wanted.
    /// </summary>
    public static FaceRecognizer From(IFaceDetector detector, FaceModel model, ImageLimits? limits = null,
        double alignmentDetail = DefaultAlignmentDetail, FaceRecognizerOptions? options = null) => new(detector, model, limits, alignmentDetail, options);

    public IFaceDetector Detector { get; }
    public FaceModel Model { get; }

    /// <summary>The same-person threshold in use: the model's, or the one given.</summary>
    public double Threshold => Model.Info.Threshold;

    // ----- images -----

    public RgbImage Load(string path) => ImageDecoder.Load(path, _limits);
    public RgbImage Load(Stream stream, string name = "<stream>") => ImageDecoder.Load(stream, name, _limits);
    public RgbImage Load(byte[] bytes, string name = "<bytes>") => ImageDecoder.Decode(bytes, name, _limits);

    /// <summary>
    /// A photo decoded at the size detection needs (a large JPEG at 1/2 to 1/8 of its size, straight from
    /// the compressed data); faces found in it are aligned from it when large enough, else from a larger decode.
    /// </summary>
    public Photo Read(string path) => ImageDecoder.LoadPhoto(path, _limits, ReadSize);
    public Photo Read(byte[] bytes, string name = "<bytes>") => ImageDecoder.DecodePhoto(bytes, name, _limits, ReadSize);
    public Photo Read(Stream stream, string name = "<stream>") => Read(ImageDecoder.ReadStream(stream, name, _limits), name);

    // Twice the detector's input: the landmark refiner and most aligned faces then see the pixels they would see in a
    // full decode (measured on 64 deepface photos: mean embedding change 0.018 at 2x vs 0.048 at 1x, same speed).
    private int ReadSize => _detail > 0 ? 2 * (Detector.WorkingSize ?? 0) : 0;

    // ----- detection -----

    /// <summary>Every face: box, score, five landmarks (when the detector gives them) and quality, largest first.</summary>
    public IReadOnlyList<DetectedFace> Detect(RgbImage image) => Detect(Photo.Of(image));
    public IReadOnlyList<DetectedFace> Detect(string path) => Detect(Read(path));
    public IReadOnlyList<DetectedFace> Detect(Stream stream) => Detect(Read(stream));
    public IReadOnlyList<DetectedFace> Detect(byte[] bytes) => Detect(Read(bytes));

    /// <summary>Every face of the photo (the largest <see cref="MaxFaces"/>), in full-size coordinates.</summary>
    public IReadOnlyList<DetectedFace> Detect(Photo photo) => DetectCounted(photo).Faces;

    private (IReadOnlyList<DetectedFace> Faces, int Found) DetectCounted(Photo photo)
    {
        int found;
        IReadOnlyList<DetectedFace> faces;
        if (MaxFaces is { } max) faces = Detector.Detect(photo.Image, max, out found);
        else found = (faces = Detector.Detect(photo.Image)).Count;
        return (Quality.FaceQuality.Measured(photo.Image, faces, photo.Scale), found);
    }

    // ----- embedding -----

    /// <summary>Every face of the image with its embedding, largest first; empty when there is none.</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image) => Embed(image, Detect(image));
    public IReadOnlyList<FaceEmbedding> Embed(string path) => Embed(Read(path));
    public IReadOnlyList<FaceEmbedding> Embed(Stream stream) => Embed(Read(stream));
    public IReadOnlyList<FaceEmbedding> Embed(byte[] bytes) => Embed(Read(bytes));
    public IReadOnlyList<FaceEmbedding> Embed(Photo photo) => Embed(photo, Detect(photo));

    /// <summary>Embeddings of faces already found in the image (one batch per network).</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image, IReadOnlyList<DetectedFace> faces) => Embed(Photo.Of(image), faces);

    /// <summary>
    /// Embeddings of faces found in the photo (full-size coordinates), each aligned from a decode large enough for it;
    /// with <see cref="RequiresLive"/> every face is first held to the liveness check.
    /// </summary>
    public IReadOnlyList<FaceEmbedding> Embed(Photo photo, IReadOnlyList<DetectedFace> faces)
    {
        EnsureLive(photo, faces);
        return EmbedFaces(photo, faces);
    }

    private List<FaceEmbedding> EmbedFaces(Photo photo, IReadOnlyList<DetectedFace> faces)
    {
        var vectors = Model.Embed(faces.Select(f => Align(photo, f)).ToList());
        return faces.Select((f, i) => new FaceEmbedding(i, f, vectors[i])).ToList();
    }

    /// <summary>
    /// The crops the model embeds for one face (full-size coordinates): from the photo as decoded when the
    /// face spans at least <see cref="FaceRecognizerOptions.AlignmentDetail"/> times the model's input there,
    /// else from a decode that large (at most the full photo).
    /// </summary>
    public FaceCrops Align(Photo photo, DetectedFace face)
    {
        double need = _detail <= 0 ? 1 : Math.Min(1, _detail * _largestInput / Math.Max(1f, Math.Max(face.Box.Width, face.Box.Height)));
        var (image, scale) = photo.Scale >= need ? (photo.Image, photo.Scale) : photo.AtLeast(need);
        return Model.Align(image, face.Scaled(scale));
    }

    /// <summary>The photo's subject (<see cref="MainFace"/>), with the number of faces the photo holds; <see cref="NoFaceException"/> when none.</summary>
    public (FaceEmbedding Face, int FacesFound) EmbedMain(RgbImage image, string name = "<image>") => EmbedMain(Photo.Of(image, name));

    public (FaceEmbedding Face, int FacesFound) EmbedMain(Photo photo)
    {
        var subject = DetectMain(photo);
        if (subject.Face is not { } face) throw new NoFaceException(photo.Name);
        EnsureLive(photo, [face]);
        return (EmbedFaces(photo, [face])[0] with { Index = subject.Index }, subject.All.Count);
    }

    /// <summary>The photo's faces and which of them is its subject (<see cref="MainFace"/>), without embedding: for callers that batch the embedding.</summary>
    public PhotoSubject DetectMain(Photo photo)
    {
        var (faces, found) = DetectCounted(photo);
        return PhotoSubject.Of(faces, photo.Width, photo.Height) with { Found = found };
    }

    /// <summary>
    /// The embedding of an image that already is a face crop: no detection, no alignment. With <see cref="RequiresLive"/>
    /// the crop is judged as a photo whose face fills it (and refused when that cannot be judged, unless allowed).
    /// </summary>
    public float[] EmbedCrop(RgbImage crop, string name = "<crop>")
    {
        EnsureLive(Photo.Of(crop, name), [new DetectedFace(new FaceBox(0, 0, crop.Width, crop.Height), 1, null)]);
        return Model.Embed(Model.FromCrop(crop));
    }

    // ----- liveness -----

    /// <summary>The liveness networks (loaded at the first use, or at creation when <see cref="RequiresLive"/>).</summary>
    public LivenessModel Liveness => _liveness.Value;

    /// <summary>Whether comparison, embedding and enrolment refuse faces that are not live (<see cref="FaceRecognizerOptions.RequireLive"/>).</summary>
    public bool RequiresLive { get; }

    /// <summary>What <see cref="RequiresLive"/> does with a face that cannot be judged.</summary>
    public UnjudgedFaces LivenessUnjudged { get; }

    /// <summary>How this recognizer's detector's boxes map onto the boxes the liveness networks were trained with.</summary>
    public LivenessBoxMap LivenessBoxes => LivenessBoxMap.For(Detector.Name);

    /// <summary>The liveness verdict on one face found in the photo (full-size coordinates).</summary>
    public LivenessResult CheckLiveness(Photo photo, DetectedFace face) => Liveness.Check(photo, [face], LivenessBoxes)[0];

    /// <summary>The verdicts on faces found in the photo, the networks run once for all of them.</summary>
    public IReadOnlyList<LivenessResult> CheckLiveness(Photo photo, IReadOnlyList<DetectedFace> faces) => Liveness.Check(photo, faces, LivenessBoxes);

    /// <summary>Every face of the photo and its verdict, largest first; empty when there is none.</summary>
    public IReadOnlyList<LivenessResult> CheckLiveness(Photo photo) => CheckLiveness(photo, Detect(photo));
    public IReadOnlyList<LivenessResult> CheckLiveness(string path) => CheckLiveness(Read(path));
    public IReadOnlyList<LivenessResult> CheckLiveness(Stream stream, string name = "<stream>") => CheckLiveness(Read(stream, name));
    public IReadOnlyList<LivenessResult> CheckLiveness(byte[] bytes, string name = "<bytes>") => CheckLiveness(Read(bytes, name));

    /// <summary>
    /// With <see cref="RequiresLive"/>: throws <see cref="PresentationAttackException"/> naming the photo for the first
    /// face that is an attack (or cannot be judged, unless <see cref="LivenessUnjudged"/> allows it); else does nothing.
    /// </summary>
    public void EnsureLive(Photo photo, IReadOnlyList<DetectedFace> faces)
    {
        if (!RequiresLive || faces.Count == 0) return;
        PresentationAttackException.ThrowIfRefused(photo.Name, CheckLiveness(photo, faces), LivenessUnjudged);
    }

    // ----- verification -----

    /// <summary>Same person or not: two embeddings against the threshold of frontal pairs, under the model's metric.</summary>
    public Verification Verify(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => new(Distance.Of(Model.Info.Metric, a, b), Threshold, Model.Info.Metric);

    /// <summary>
    /// Same person or not, for two faces whose poses may be known: the threshold is the one for their difference in
    /// yaw (<see cref="Models.ModelInfo.ThresholdFor"/>; the model's own when either pose is unknown or the model has no
    /// pose thresholds).
    /// </summary>
    public Verification Verify(FaceEmbedding a, FaceEmbedding b)
    {
        double? diff = a.Face.Pose is { } pa && b.Face.Pose is { } pb ? HeadPose.YawDifference(pa, pb) : null;
        return new Verification(Distance.Of(Model.Info.Metric, a.Vector, b.Vector), Model.Info.ThresholdFor(diff), Model.Info.Metric)
            { A = a, B = b, PoseDifference = diff };
    }

    /// <summary>Are the two photos of the same person? <see cref="NoFaceException"/> names a photo without a face.</summary>
    public Verification Compare(string a, string b, FacePick pick = FacePick.Main) => Compare(Read(a), Read(b), pick);
    public Verification Compare(Stream a, Stream b, FacePick pick = FacePick.Main) => Compare(Read(a, "<stream a>"), Read(b, "<stream b>"), pick);
    public Verification Compare(byte[] a, byte[] b, FacePick pick = FacePick.Main) => Compare(Read(a, "<bytes a>"), Read(b, "<bytes b>"), pick);

    public Verification Compare(RgbImage a, RgbImage b, FacePick pick = FacePick.Main, string nameA = "<image a>", string nameB = "<image b>")
        => Compare(Photo.Of(a, nameA), Photo.Of(b, nameB), pick);

    public Verification Compare(Photo a, Photo b, FacePick pick = FacePick.Main)
    {
        if (pick == FacePick.Main)
        {
            var (fa, na) = EmbedMain(a);
            var (fb, nb) = EmbedMain(b);
            return Verify(fa, fb) with { FacesInA = na, FacesInB = nb };
        }
        var all = Embed(a);
        if (all.Count == 0) throw new NoFaceException(a.Name);
        var other = Embed(b);
        if (other.Count == 0) throw new NoFaceException(b.Name);
        return Closest(all, other);
    }

    /// <summary>
    /// The faces of one image file as a front end asks for them, with how many faces the photo holds (1 for a whole
    /// image); a photo without a face is <see cref="NoFaceException"/>.
    /// </summary>
    public (IReadOnlyList<FaceEmbedding> Faces, int Found) EmbedFaces(string path, PhotoFaces which)
    {
        switch (which)
        {
            case PhotoFaces.WholeImage:
                var image = Load(path);
                var whole = new DetectedFace(new FaceBox(0, 0, image.Width, image.Height), 1, null);
                return ([new FaceEmbedding(0, whole, EmbedCrop(image, path))], 1);
            case PhotoFaces.Subject:
                var (face, found) = EmbedMain(Read(path));
                return ([face], found);
            default:
                var faces = Embed(Read(path));
                return faces.Count == 0 ? throw new NoFaceException(path) : (faces, faces.Count);
        }
    }

    /// <summary>
    /// Every pair's verdict among several photos' faces (the closest pair of each two photos, each held to its own
    /// threshold, as <see cref="Closest"/>); the diagonal is null. Each pair is compared once: [j, i] is [i, j] seen from the other side.
    /// </summary>
    public Verification?[,] CompareAll(IReadOnlyList<IReadOnlyList<FaceEmbedding>> photos)
    {
        int n = photos.Count;
        var verdicts = new Verification?[n, n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                var v = Closest(photos[i], photos[j]);
                verdicts[i, j] = v;
                verdicts[j, i] = v with { A = v.B, B = v.A, FacesInA = v.FacesInB, FacesInB = v.FacesInA };
            }
        return verdicts;
    }

    /// <summary>
    /// The closest pair of faces of two photos (<see cref="Verification.A"/> and <see cref="Verification.B"/> say which), held against
    /// its threshold: closest by distance less the pair's threshold, so a turned pair is not passed over for a frontal one.
    /// </summary>
    public Verification Closest(IReadOnlyList<FaceEmbedding> a, IReadOnlyList<FaceEmbedding> b)
    {
        if (a.Count == 0 || b.Count == 0) throw new ArgumentException("the closest pair needs a face on each side");
        Verification? best = null;
        foreach (var x in a)
            foreach (var y in b)
            {
                // the closest pair by its margin under its own threshold: the pair most surely of one person
                var v = Verify(x, y);
                if (best is null || v.Distance - v.Threshold < best.Distance - best.Threshold) best = v;
            }
        return best! with { FacesInA = a.Count, FacesInB = b.Count };
    }

    public void Dispose()
    {
        Detector.Dispose();
        Model.Dispose();
        if (_liveness.IsValueCreated) _liveness.Value.Dispose();
    }
}
