using System.Security.Cryptography;

namespace FaceNet.Imaging;

/// <summary>The SHA-256 of a file, in lower-case hex: how caches and galleries recognise a photo they have seen.</summary>
public static class FileHash
{
    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
