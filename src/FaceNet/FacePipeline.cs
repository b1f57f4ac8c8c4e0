using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;

namespace FaceNet;

/// <summary>A face found in an image, with its embedding.</summary>
public sealed record FaceEmbedding(int Index, DetectedFace Face, float[] Embedding);

/// <summary>
/// The whole pipeline of the seed: detect → align (crop as the model expects) → embed (preprocess,
/// network, L2). The stages are usable on their own; this is the one place that chains them.
/// </summary>
public sealed class FacePipeline : IDisposable
{
    private readonly bool _ownsParts;

    public FacePipeline(IFaceDetector detector, FaceModel model, bool ownsParts = true)
    {
        Detector = detector;
        Model = model;
        _ownsParts = ownsParts;
    }

    public IFaceDetector Detector { get; }
    public FaceModel Model { get; }

    /// <summary>
    /// Faces of the image, largest first; with <paramref name="allFaces"/> false only the photo's subject
    /// (<see cref="MainFace"/>). Empty when none is found.
    /// </summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image, bool allFaces = false)
    {
        var faces = Detector.Detect(image);
        if (!allFaces && faces.Count > 1) faces = [faces[MainFace.Index(faces, image.Width, image.Height)]];
        return Embed(image, faces);
    }

    /// <summary>Embeddings of faces already found in the image.</summary>
    public IReadOnlyList<FaceEmbedding> Embed(RgbImage image, IReadOnlyList<DetectedFace> faces)
    {
        var embeddings = Model.Embed(faces.Select(f => Model.Align(image, f)).ToList());
        return faces.Select((f, i) => new FaceEmbedding(i, f, embeddings[i])).ToList();
    }

    /// <summary>The embedding of an image that already is a face crop (no detection, no alignment).</summary>
    public float[] EmbedCrop(RgbImage crop) => Model.Embed(Model.FromCrop(crop));

    public void Dispose()
    {
        if (!_ownsParts) return;
        Detector.Dispose();
        Model.Dispose();
    }
}
