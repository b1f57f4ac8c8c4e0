namespace FaceNet.Embedding;

/// <summary>
/// Embeddings of whole photos (their main face) remembered by the photo file's SHA-256, for one pipeline
/// (model, detector); a null vector means the photo had no face. Evaluation and training share it, so a
/// model's faces are computed once across runs.
/// </summary>
public interface IEmbeddingCache
{
    bool TryGet(string fileSha256, out float[]? embedding);
    void Add(string fileSha256, float[]? embedding);
}
