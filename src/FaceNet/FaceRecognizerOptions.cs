using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Liveness;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet;

/// <summary>Options of <see cref="FaceRecognizer.Create"/>; the defaults are the bundled detector and model.</summary>
public sealed record FaceRecognizerOptions
{
    /// <summary>A bundled model's name (<c>fused</c>, <c>mobilefacenet</c>, <c>faceapi-resnet</c>), an <c>.onnx</c> face model, or a fused model's <c>.json</c>; null: the default.</summary>
    public string? Model { get; init; }

    /// <summary>The face detector; null: the default, <see cref="DetectorKind.YuNetOnet"/> (a name users write: <see cref="Detectors.Parse"/>).</summary>
    public DetectorKind? Detector { get; init; }

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

    /// <summary>
    /// How large a face must be, in pixels of the decoded photo, relative to the model's input, for it to
    /// be aligned from a reduced decode (see <see cref="Photo"/>); smaller faces are decoded again larger.
    /// 0 decodes every photo in full.
    /// </summary>
    public double AlignmentDetail { get; init; } = FaceRecognizer.DefaultAlignmentDetail;

    /// <summary>Overrides the alignment of a single-network model (parsed with <see cref="AlignmentSpec.Parse"/>); a fused model's members keep theirs.</summary>
    public AlignmentSpec? Alignment { get; init; }

    /// <summary>Overrides the preprocessing of a single-network model (<c>prewhiten</c>, <c>fixed</c>, <c>raw</c>, …).</summary>
    public string? Preprocess { get; init; }

    /// <summary>Largest batch of faces sent to a network at once.</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>
    /// Faces of one photo kept at most (the largest; null: every face): a photo of hundreds of faces costs what
    /// this many cost, since the cap applies before landmarks, quality and embedding. <see cref="PhotoSubject.Found"/>
    /// says how many the photo held.
    /// </summary>
    public int? MaxFaces { get; init; }

    /// <summary>Turns a weights file given as <see cref="Model"/> into ONNX model bytes (the <c>FaceNet.Import</c> package's <c>WeightImporter</c>).</summary>
    public Func<string, byte[]>? ImportWeights { get; init; }

    /// <summary>
    /// Refuse faces that are not live: comparison, embedding (and with it identification) and enrolment throw
    /// <see cref="PresentationAttackException"/> (<see cref="FaceNetErrorKind.PresentationAttack"/>) for a face the
    /// liveness check calls an attack (a photo or a screen held up to the camera), and for one it cannot judge
    /// unless <see cref="LivenessUnjudged"/> allows it.
    /// </summary>
    public bool RequireLive { get; init; }

    /// <summary>With <see cref="RequireLive"/>: what to do with a face too small, too blurred or too cut off to judge (refused by default: a door fails closed).</summary>
    public UnjudgedFaces LivenessUnjudged { get; init; } = UnjudgedFaces.Refuse;

    /// <summary>The liveness networks: a folder of liveness <c>.onnx</c> files, or one; null: the bundled pair (<c>minifasnet</c>).</summary>
    public string? LivenessModel { get; init; }

    /// <summary>A liveness threshold (on the pair's mean live probability) instead of the pair's own.</summary>
    public double? LivenessThreshold { get; init; }
}
