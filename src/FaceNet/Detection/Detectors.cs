using FaceNet.Embedding;
using FaceNet.Models;

namespace FaceNet.Detection;

/// <summary>
/// Creates a detector: <c>yunet+onet</c> (the default: YuNet's boxes, MTCNN O-Net's landmarks),
/// <c>yunet</c>, <c>mtcnn</c> or <c>haar</c> (the seed's). Names are parsed once, where they are given
/// (<see cref="Parse"/>); everything below takes a <see cref="DetectorKind"/>.
/// </summary>
public static class Detectors
{
    public const string Default = "yunet+onet";

    public static IReadOnlyList<string> Names { get; } = ["yunet+onet", "yunet", "mtcnn", "haar"];

    /// <summary>The name users write for <paramref name="kind"/>; detectors report the same as <see cref="IFaceDetector.Name"/>.</summary>
    public static string NameOf(DetectorKind kind) => Names[(int)kind];

    /// <summary>A detector's name as users write it (case aside); an unknown one is an <see cref="FaceNetErrorKind.Invalid"/> error listing the names.</summary>
    public static DetectorKind Parse(string name)
    {
        int i = Names.ToList().IndexOf(name.Trim().ToLowerInvariant());
        return i >= 0 ? (DetectorKind)i
            : throw new SettingException("detector", $"unknown detector '{name}' (expected {string.Join(", ", Names)})");
    }

    /// <summary>The detector of that kind (null: the default, <see cref="DetectorKind.YuNetOnet"/>).</summary>
    public static IFaceDetector Create(DetectorKind? kind, int threads = 0) => (kind ?? DetectorKind.YuNetOnet) switch
    {
        DetectorKind.YuNet => new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }),
        DetectorKind.Mtcnn => new MtcnnDetector(BundledFolder("mtcnn"), new MtcnnOptions { Threads = threads }),
        DetectorKind.YuNetOnet => new LandmarkRefiner(new YuNetDetector(Bundled("yunet"), new YuNetOptions { Threads = threads }),
            BundledFolder("mtcnn"), threads),
        DetectorKind.Haar => new HaarDetector(Path.Combine(BundledFolder("haar"), "haarcascade_frontalface_alt2.xml")),
        var other => throw new ArgumentOutOfRangeException(nameof(kind), other, "not a detector"),
    };

    private static string BundledFolder(string name)
        => BundledModels.Folders().Select(f => Path.Combine(f, name)).FirstOrDefault(Directory.Exists)
           ?? throw new ModelException(name, "bundled detector weights not found under models/");

    private static string Bundled(string name)
        => BundledModels.Find(name) ?? throw new ModelException(name, "bundled detector model not found under models/");
}
