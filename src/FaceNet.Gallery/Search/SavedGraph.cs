using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace FaceNet.Gallery;

/// <summary>
/// A compact index saved with what it covers: the model, the shard, the change-feed position up to which it holds
/// the gallery, each row's subject (−1: erased) and its face's yaw (for the pose-aware rule), and USearch's serialised
/// graph (int8 codes and links).
/// <para>
/// Layout: the magic <c>FNGRAPH2</c>, a header (model id, dimensions, connectivity, shard, shard count, position,
/// rows, whether sealed), then the body (rows' subjects, rows' yaws, the graph). A plain gallery's body follows in the clear
/// and a SHA-256 of everything before it closes the file. An encrypted gallery's body is sealed with AES-256-GCM
/// under a key derived from the gallery's data key, in chunks of 16 MiB, each with its own random nonce and tag and
/// the header and its number as associated data: no code, no vector is ever written in the clear, and the graph is
/// opened in memory (USearch loads it from a buffer). A file that is damaged, cut short, of another model, shard or
/// key does not open: the shard is rebuilt, never served from it.
/// </para>
/// </summary>
public static class SavedGraph
{
    private static readonly byte[] Magic = "FNGRAPH2"u8.ToArray();
    private const int Chunk = 16 << 20, NonceSize = 12, TagSize = 16;

    /// <summary>What a saved graph must be of to be taken.</summary>
    public sealed record Header(string ModelId, int Dimensions, int Connectivity, int Shard, int Shards, long Position, int Rows);

    /// <summary>A saved graph opened: its header, each row's subject and yaw (NaN: not recorded), the graph's bytes.</summary>
    public sealed record Contents(Header Header, long[] SubjectOfRow, float[] YawOfRow, byte[] Graph);

    /// <summary>The file's bytes; <paramref name="key"/> (32 bytes) seals the body, null leaves it plain with a checksum.</summary>
    public static byte[] Encode(Header header, IReadOnlyList<long> subjectOfRow, IReadOnlyList<float> yawOfRow, byte[] graph, byte[]? key)
    {
        if (subjectOfRow.Count != header.Rows || yawOfRow.Count != header.Rows) throw new ArgumentException("a subject and a yaw for every row");
        var head = HeaderBytes(header, key is not null);
        int rows = subjectOfRow.Count;
        var body = new byte[rows * 12L + graph.Length];
        for (int i = 0; i < rows; i++) BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(i * 8), subjectOfRow[i]);
        for (int i = 0; i < rows; i++) BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(rows * 8 + i * 4), yawOfRow[i]);
        graph.CopyTo(body, rows * 12L);
        using var output = new MemoryStream(head.Length + body.Length + 64);
        output.Write(head);
        if (key is null)
        {
            output.Write(body);
            output.Write(SHA256.HashData(output.GetBuffer().AsSpan(0, (int)output.Length)));
        }
        else
        {
            using var aes = new AesGcm(key, TagSize);
            var nonce = new byte[NonceSize];
            var tag = new byte[TagSize];
            var sealedChunk = new byte[Chunk];
            for (int i = 0, n = 0; i < body.Length; i += Chunk, n++)
            {
                int len = Math.Min(Chunk, body.Length - i);
                RandomNumberGenerator.Fill(nonce);
                aes.Encrypt(nonce, body.AsSpan(i, len), sealedChunk.AsSpan(0, len), tag, Associated(head, n));
                output.Write(nonce);
                output.Write(sealedChunk.AsSpan(0, len));
                output.Write(tag);
            }
            CryptographicOperations.ZeroMemory(body);
        }
        return output.ToArray();
    }

    /// <summary>
    /// The contents, when the bytes are a whole, unaltered saved graph of <paramref name="expected"/>'s model, size, graph
    /// degree and shard (any position), sealed under <paramref name="key"/> if and only if one is given; otherwise null.
    /// </summary>
    public static Contents? Decode(ReadOnlySpan<byte> bytes, Header expected, byte[]? key)
    {
        try
        {
            if (bytes.Length < Magic.Length + 4 || !bytes[..Magic.Length].SequenceEqual(Magic)) return null;
            int headLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[Magic.Length..]);
            if (headLength < 0 || headLength > 4096 || Magic.Length + 4 + headLength > bytes.Length) return null;
            var head = bytes[..(Magic.Length + 4 + headLength)].ToArray();
            var header = ReadHeader(head.AsSpan(Magic.Length + 4), out bool sealedBody);
            if (header is null || sealedBody != (key is not null)) return null;
            if (header.ModelId != expected.ModelId || header.Dimensions != expected.Dimensions || header.Connectivity != expected.Connectivity
                || header.Shard != expected.Shard || header.Shards != expected.Shards || header.Rows < 0) return null;
            var rest = bytes[head.Length..];
            byte[] body;
            if (key is null)
            {
                if (rest.Length < 32) return null;
                var sum = SHA256.HashData(bytes[..^32]);
                if (!CryptographicOperations.FixedTimeEquals(sum, bytes[^32..])) return null;
                body = rest[..^32].ToArray();
            }
            else
            {
                using var aes = new AesGcm(key, TagSize);
                using var plain = new MemoryStream();
                var chunk = new byte[Chunk];
                for (int n = 0; rest.Length > 0; n++)
                {
                    if (rest.Length < NonceSize + TagSize) return null;
                    int len = Math.Min(Chunk, rest.Length - NonceSize - TagSize);
                    try
                    {
                        aes.Decrypt(rest[..NonceSize], rest.Slice(NonceSize, len), rest.Slice(NonceSize + len, TagSize), chunk.AsSpan(0, len), Associated(head, n));
                    }
                    catch (AuthenticationTagMismatchException) { return null; }
                    plain.Write(chunk, 0, len);
                    rest = rest[(NonceSize + len + TagSize)..];
                }
                CryptographicOperations.ZeroMemory(chunk);
                body = plain.ToArray();
            }
            if (body.Length < header.Rows * 12L) return null;
            var subjects = new long[header.Rows];
            var yaws = new float[header.Rows];
            for (int i = 0; i < subjects.Length; i++) subjects[i] = BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(i * 8));
            for (int i = 0; i < yaws.Length; i++) yaws[i] = BinaryPrimitives.ReadSingleLittleEndian(body.AsSpan(header.Rows * 8 + i * 4));
            return new Contents(header, subjects, yaws, body[(header.Rows * 12)..]);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or DecoderFallbackException) { return null; }
    }

    /// <summary>The position a saved graph's header names (null when the bytes do not start as one): for pruning files that others have superseded.</summary>
    public static long? PeekPosition(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Magic.Length + 4 || !bytes[..Magic.Length].SequenceEqual(Magic)) return null;
        int headLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[Magic.Length..]);
        if (headLength < 33 || Magic.Length + 4 + headLength > bytes.Length) return null;
        try { return ReadHeader(bytes.Slice(Magic.Length + 4, headLength), out _)?.Position; }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or DecoderFallbackException) { return null; }
    }

    private static byte[] Associated(byte[] head, int chunk)
    {
        var ad = new byte[head.Length + 4];
        head.CopyTo(ad, 0);
        BinaryPrimitives.WriteInt32LittleEndian(ad.AsSpan(head.Length), chunk);
        return ad;
    }

    private static byte[] HeaderBytes(Header h, bool sealedBody)
    {
        var model = Encoding.UTF8.GetBytes(h.ModelId);
        var fields = new byte[4 + model.Length + 4 * 5 + 8 + 1];
        var span = fields.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, model.Length);
        model.CopyTo(span[4..]);
        int at = 4 + model.Length;
        foreach (var v in new[] { h.Dimensions, h.Connectivity, h.Shard, h.Shards, h.Rows })
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], v);
            at += 4;
        }
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], h.Position);
        span[at + 8] = sealedBody ? (byte)1 : (byte)0;
        var head = new byte[Magic.Length + 4 + fields.Length];
        Magic.CopyTo(head, 0);
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(Magic.Length), fields.Length);
        fields.CopyTo(head, Magic.Length + 4);
        return head;
    }

    private static Header? ReadHeader(ReadOnlySpan<byte> fields, out bool sealedBody)
    {
        sealedBody = false;
        int modelLength = BinaryPrimitives.ReadInt32LittleEndian(fields);
        if (modelLength < 0 || 4 + modelLength + 29 != fields.Length) return null;
        var model = Encoding.UTF8.GetString(fields.Slice(4, modelLength));
        int at = 4 + modelLength;
        var v = new int[5];
        for (int i = 0; i < 5; i++, at += 4) v[i] = BinaryPrimitives.ReadInt32LittleEndian(fields[at..]);
        long position = BinaryPrimitives.ReadInt64LittleEndian(fields[at..]);
        sealedBody = fields[at + 8] == 1;
        return new Header(model, v[0], v[1], v[2], v[3], position, v[4]);
    }
}
