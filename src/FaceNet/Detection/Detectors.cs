using FaceNet.Embedding;
using FaceNet.Models;

namespace FaceNet.Detection;

/// <summary>
/// Creates a detector by name: <c>yunet+onet</c> (the default: YuNet's boxes, MTCNN O-Net's landmarks),
/// <c>yunet</c>, <c>mtcnn</c> or <c>haar</c> (the seed's).
/// </summary>
public static class Detectors
{
    public const string Default = "yunet+onet";

    public static IReadOnlyList<string> Names { get; } = ["yunet+onet", "yunet", "mtcnn", "haar"];

    public static IFaceDetector Create(string? name, int threads = 0) => (name ?? Default).ToLowerInvariant() switch
    {
        "yunet" => new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }),
        "mtcnn" => new MtcnnDetector(BundledFolder("mtcnn"), new MtcnnOptions { Threads = threads }),
        "yunet+onet" => new LandmarkRefiner(new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }), BundledFolder("mtcnn"), threads),
        "haar" => new HaarDetector(Path.Combine(BundledFolder("haar"), "haarcascade_frontalface_alt2.xml")),
        var other => throw new ArgumentException($"unknown detector '{other}' (expected {string.Join(", ", Names)})"),
    };

    private static string BundledFolder(string name)
        => BundledModels.Folders().Select(f => Path.Combine(f, name)).FirstOrDefault(Directory.Exists)
           ?? throw new ModelException(name, "bundled detector weights not found under models/");

    private static string Bundled(string name)
        => BundledModels.Find(name) ?? throw new ModelException(name, "bundled detector model not found under models/");
}

