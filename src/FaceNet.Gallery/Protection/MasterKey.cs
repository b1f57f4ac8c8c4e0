using System.Security.Cryptography;
using System.Text;

namespace FaceNet.Gallery.Protection;

/// <summary>
/// The key that wraps each encrypted gallery's data key: 32 random bytes, kept as base64 in a file that
/// the deployment guards (never in the gallery, never in its database). Losing it loses the gallery's faces;
/// a copy of the gallery without it is ciphertext.
/// </summary>
public sealed class MasterKey
{
    /// <summary>The environment variable that names the key file when no file is given.</summary>
    public const string EnvironmentVariable = "FACENET_MASTER_KEY_FILE";

    private readonly byte[] _key;

    private MasterKey(byte[] key, string source)
    {
        _key = key;
        Source = source;
        // an id to tell keys apart in messages and in the gallery's metadata; it reveals nothing of the key
        Id = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes("facenet master key id"))[..8]);
    }

    /// <summary>Where the key came from (its file), for messages.</summary>
    public string Source { get; }

    /// <summary>16 hex digits that name this key (an HMAC of a constant under it).</summary>
    public string Id { get; }

    /// <summary>A new random key (<see cref="RandomNumberGenerator"/>).</summary>
    public static MasterKey Create() => new(RandomNumberGenerator.GetBytes(32), "new key");

    /// <summary>The key as a key file holds it: base64 of its 32 bytes, one line.</summary>
    public string ToBase64() => Convert.ToBase64String(_key);

    /// <summary>Reads a key file: base64 of 32 bytes (whitespace around it ignored).</summary>
    public static MasterKey Load(string file)
    {
        string text;
        try
        {
            if (new FileInfo(file) is { Exists: true, Length: > 4096 }) throw new MasterKeyException(file, "not a master key file (larger than 4 KB)");
            text = File.ReadAllText(file).Trim();
        }
        catch (FileNotFoundException) { throw new MasterKeyException(file, "no such master key file"); }
        catch (DirectoryNotFoundException) { throw new MasterKeyException(file, "no such master key file"); }
        catch (UnauthorizedAccessException) { throw new MasterKeyException(file, "cannot read the master key file (permission)"); }
        catch (IOException e) { throw new MasterKeyException(file, "cannot read the master key file: " + e.Message); }
        byte[] key;
        try { key = Convert.FromBase64String(text); }
        catch (FormatException) { throw new MasterKeyException(file, "not a master key (expected base64 of 32 bytes, as 'facenet gallery new-key' writes)"); }
        if (key.Length != 32) throw new MasterKeyException(file, $"a master key is 32 bytes; this file holds {key.Length}");
        return new MasterKey(key, file);
    }

    /// <summary>The key given as a file, else the one the environment names (<see cref="EnvironmentVariable"/>), else null.</summary>
    public static MasterKey? From(string? file)
        => file is not null ? Load(file)
            : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env ? Load(env) : null;

    /// <summary>A data key wrapped under this key (AES-256-GCM): nonce, ciphertext, tag, as base64.</summary>
    internal string Wrap(byte[] dataKey)
    {
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var sealedKey = new byte[dataKey.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using var aes = new AesGcm(_key, tag.Length);
        aes.Encrypt(nonce, dataKey, sealedKey, tag, WrapContext);
        return Convert.ToBase64String([.. nonce, .. sealedKey, .. tag]);
    }

    /// <summary>The data key, or null when this is not the key it was wrapped under (or the text was altered).</summary>
    internal byte[]? Unwrap(string wrapped)
    {
        byte[] all;
        try { all = Convert.FromBase64String(wrapped); }
        catch (FormatException) { return null; }
        const int nonce = 12, tag = 16;
        if (all.Length != nonce + 32 + tag) return null;
        var dataKey = new byte[32];
        try
        {
            using var aes = new AesGcm(_key, tag);
            aes.Decrypt(all.AsSpan(0, nonce), all.AsSpan(nonce, 32), all.AsSpan(nonce + 32), dataKey, WrapContext);
            return dataKey;
        }
        catch (AuthenticationTagMismatchException) { return null; }
    }

    private static readonly byte[] WrapContext = Encoding.ASCII.GetBytes("facenet gallery data key v1");
}
