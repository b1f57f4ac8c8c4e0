using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace FaceNet.Gallery.Protection;

/// <summary>
/// Seals face vectors under a gallery's data key with AES-256-GCM: each stored value is a fresh 12-byte
/// nonce, the ciphertext of the float32 values and the 16-byte tag; the face's id is the associated data,
/// so a sealed vector moved to another row does not open. Vectors are plain only in memory.
/// </summary>
internal sealed class FaceCipher : IDisposable
{
    private const int NonceSize = 12, TagSize = 16;
    private readonly AesGcm _aes;

    public FaceCipher(byte[] dataKey) => _aes = new AesGcm(dataKey, TagSize);

    /// <summary>How many bytes a sealed vector of <paramref name="dimensions"/> values takes.</summary>
    public static int SealedSize(int dimensions) => NonceSize + dimensions * sizeof(float) + TagSize;

    /// <summary>A new random data key.</summary>
    public static byte[] NewDataKey() => RandomNumberGenerator.GetBytes(32);

    public byte[] Seal(long faceId, float[] vector)
    {
        var plain = MemoryMarshal.AsBytes(vector.AsSpan());
        var sealedValue = new byte[NonceSize + plain.Length + TagSize];
        var nonce = sealedValue.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        _aes.Encrypt(nonce, plain, sealedValue.AsSpan(NonceSize, plain.Length), sealedValue.AsSpan(NonceSize + plain.Length), Context(faceId));
        return sealedValue;
    }

    /// <summary>The vector, or null when the value was not sealed for this face under this key (altered, moved, another key).</summary>
    public float[]? Open(long faceId, byte[] sealedValue)
    {
        int n = sealedValue.Length - NonceSize - TagSize;
        if (n <= 0 || n % sizeof(float) != 0) return null;
        var vector = new float[n / sizeof(float)];
        try
        {
            _aes.Decrypt(sealedValue.AsSpan(0, NonceSize), sealedValue.AsSpan(NonceSize, n), sealedValue.AsSpan(NonceSize + n),
                MemoryMarshal.AsBytes(vector.AsSpan()), Context(faceId));
            return vector;
        }
        catch (AuthenticationTagMismatchException) { return null; }
    }

    /// <summary>
    /// A stored vector as the index wants it, the same for every store: plain float32 values, or opened under
    /// <paramref name="cipher"/>; a value of the wrong size, or one that does not open, is a corrupt store.
    /// </summary>
    public static float[] FromStored(FaceCipher? cipher, long faceId, byte[] stored, int dimensions, string location)
    {
        int size = cipher is null ? dimensions * sizeof(float) : SealedSize(dimensions);
        if (stored.Length != size)
            throw new GalleryException(location, $"face {faceId} holds a {stored.Length}-byte embedding (corrupt gallery)", FaceNetErrorKind.CorruptStore);
        if (cipher is null) return MemoryMarshal.Cast<byte, float>(stored).ToArray();
        return cipher.Open(faceId, stored)
            ?? throw new GalleryException(location, $"face {faceId} does not open under the gallery's key (altered, or moved from another row)", FaceNetErrorKind.CorruptStore);
    }

    private static byte[] Context(long faceId)
    {
        var ad = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(ad, faceId);
        return ad;
    }

    public void Dispose() => _aes.Dispose();
}
