using System.Security.Cryptography;

namespace FaceNet.Evaluation;

/// <summary>
/// Embeddings on disk, keyed by the pipeline (model bytes, detector, alignment, flip) and by each image
/// file's SHA-256, so a re-run of an evaluation is instant. One append-only file per pipeline key; a
/// torn last record (a killed run) is ignored on load. A record with no vector means "no face found".
/// </summary>
public sealed class EmbeddingCache : Embedding.IEmbeddingCache, IDisposable
{
    private readonly Dictionary<string, float[]?> _entries = new(StringComparer.Ordinal);
    private readonly FileStream? _log;
    private readonly object _gate = new();

    public EmbeddingCache(string? directory, string pipelineKey)
    {
        if (directory is null) return;
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, pipelineKey + ".emb");
        _log = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        long good = Load(_log);
        _log.SetLength(good); // drop a torn tail
        _log.Position = good;
    }

    public int Count => _entries.Count;

    public static string DefaultDirectory => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
        "facenet", "embeddings");

    /// <summary>A key for everything that changes an embedding but the image: the model's identity (networks, alignment, flip), the detector (v7: profiles found by a second look, poses cached).</summary>
    public static string PipelineKey(string modelIdentity, string detector, bool fallback)
        => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{modelIdentity}|{detector}|{fallback}|v7")))[..32];

    public static string FileKey(string path) => Imaging.FileHash.Sha256(path);

    public bool TryGet(string fileSha256, out float[]? embedding)
    {
        lock (_gate) return _entries.TryGetValue(fileSha256, out embedding);
    }

    public void Add(string fileSha256, float[]? embedding)
    {
        lock (_gate)
        {
            if (!_entries.TryAdd(fileSha256, embedding) || _log is null) return;
            var key = Convert.FromHexString(fileSha256);
            var record = new byte[32 + 4 + (embedding?.Length ?? 0) * 4];
            key.CopyTo(record, 0);
            BitConverter.TryWriteBytes(record.AsSpan(32), embedding?.Length ?? 0);
            if (embedding is not null) Buffer.BlockCopy(embedding, 0, record, 36, embedding.Length * 4);
            _log.Write(record);
        }
    }

    private long Load(FileStream s)
    {
        var buffer = new byte[s.Length];
        s.ReadExactly(buffer);
        long pos = 0;
        while (pos + 36 <= buffer.Length)
        {
            int dim = BitConverter.ToInt32(buffer, (int)pos + 32);
            if (dim < 0 || dim > 65536 || pos + 36 + dim * 4L > buffer.Length) break;
            var key = Convert.ToHexStringLower(buffer, (int)pos, 32);
            float[]? v = null;
            if (dim > 0)
            {
                v = new float[dim];
                Buffer.BlockCopy(buffer, (int)pos + 36, v, 0, dim * 4);
            }
            _entries[key] = v;
            pos += 36 + dim * 4L;
        }
        return pos;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _log?.Flush(flushToDisk: true);
            _log?.Dispose();
        }
    }
}
