using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Models;

namespace FaceNet;

/// <summary>Options of <see cref="FacePipeline"/>.</summary>
public sealed record PipelineOptions
{
    /// <summary>Overrides the model's <c>facenet.alignment</c> (e.g. <c>margin:32</c>).</summary>
    public string? Alignment { get; init; }

    /// <summary>Test-time flip averaging: the embedding of the crop plus that of its mirror image, renormalised.</summary>
    public bool Flip { get; init; }
}

/// <summary>A face found in an image, with its embedding.</summary>
public sealed record FaceEmbedding(int Index, DetectedFace Face, float[] Embedding);

/// <summary>
/// The whole pipeline of the seed: detect → align (crop as the model expects) → embed (preprocess,
/// network, L2). The facade the CLI and the service use; the stages are usable on their own.
/// </summary>
public sealed class FacePipeline : IDisposable
{
    private readonly bool _ownsParts;

    public FacePipeline(IFaceDetector detector, FaceEmbedder embedder, PipelineOptions? options = null, bool ownsParts = true)
    {
        Detector = detector;
        Embedder = embedder;
        Options = options ?? new PipelineOptions();
        Alignment = Options.Alignment ?? embedder.Info.Alignment;
        _ownsParts = ownsParts;
        FaceAligner.Align(new RgbImage(8, 8, new byte[192]), new DetectedFace(new FaceBox(0, 0, 8, 8), 1, null), Alignment, 8); // refuse a bad spec now
    }

    public IFaceDetector Detector { get; }
    public FaceEmbedder Embedder { get; }
    public PipelineOptions Options { get; }

    /// <summary>The alignment in use: the option's, else the model's.</summary>
    public string Alignment { get; }

    /// <summary>Faces of the image, largest first; with <paramref name="allFaces"/> false only the largest. Empty when none is found.</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image, bool allFaces = false)
    {
        var faces = Detector.Detect(image);
        if (!allFaces && faces.Count > 1) faces = [faces[0]];
        var crops = faces.Select(f => AlignFace(image, f)).ToList();
        var embeddings = EmbedAligned(crops);
        return faces.Select((f, i) => new FaceEmbedding(i, f, embeddings[i])).ToList();
    }

    /// <summary>The crop the model sees for a detected face.</summary>
    public RgbImage AlignFace(RgbImage image, DetectedFace face) => FaceAligner.Align(image, face, Alignment, Embedder.Info.InputSize);

    /// <summary>Embeddings of crops that are already faces (resized to the model input), with flip averaging if set.</summary>
    public float[][] EmbedAligned(IReadOnlyList<RgbImage> crops)
    {
        if (!Options.Flip) return Embedder.Embed(crops);
        var both = Embedder.Embed(crops.Concat(crops.Select(c => c.FlipHorizontal())).ToList());
        var result = new float[crops.Count][];
        for (int i = 0; i < crops.Count; i++)
        {
            var v = both[i].Zip(both[i + crops.Count], (a, b) => a + b).ToArray();
            L2.NormalizeInPlace(v);
            result[i] = v;
        }
        return result;
    }

    public void Dispose()
    {
        if (!_ownsParts) return;
        Detector.Dispose();
        Embedder.Dispose();
    }
}
