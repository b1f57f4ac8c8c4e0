using FaceNet.Embedding;
using FaceNet.Models;

namespace FaceNet.Detection;

/// <summary>Creates a detector by name: <c>yunet</c> (default), <c>mtcnn</c> or <c>haar</c>.</summary>
public static class Detectors
{
    public const string Default = "yunet";

    public static IReadOnlyList<string> Names { get; } = ["yunet", "mtcnn", "haar", "yunet+onet"];

    public static IFaceDetector Create(string? name, int threads = 0) => (name ?? Default).ToLowerInvariant() switch
    {
        "yunet" => new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }),
        "mtcnn" => new MtcnnDetector(BundledFolder("mtcnn"), new MtcnnOptions { Threads = threads }),
        "yunet+onet" => new LandmarkRefiner(new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }), new MtcnnDetector(BundledFolder("mtcnn"), new MtcnnOptions { Threads = threads })),
        "haar" => new HaarDetector(Path.Combine(BundledFolder("haar"), "haarcascade_frontalface_alt2.xml")),
        var other => throw new ArgumentException($"unknown detector '{other}' (expected {string.Join(", ", Names)})"),
    };

    private static string BundledFolder(string name)
        => BundledModels.Folders().Select(f => Path.Combine(f, name)).FirstOrDefault(Directory.Exists)
           ?? throw new ModelException(name, "bundled detector weights not found under models/");

    private static string Bundled(string name)
        => BundledModels.Find(name) ?? throw new ModelException(name, "bundled detector model not found under models/");
}

/// <summary>Faces from one detector with landmarks from MTCNN's O-Net (see <see cref="MtcnnDetector.RefineLandmarks"/>).</summary>
internal sealed class LandmarkRefiner(IFaceDetector detector, MtcnnDetector onet) : IFaceDetector
{
    public string Name => detector.Name + "+onet";

    public IReadOnlyList<DetectedFace> Detect(FaceNet.Imaging.RgbImage image) => onet.RefineLandmarks(image, detector.Detect(image));

    public void Dispose()
    {
        detector.Dispose();
        onet.Dispose();
    }
}
