namespace FaceNet.Gallery.Protection;

/// <summary>
/// How a gallery records its encryption, the same in SQLite and PostgreSQL: three metadata entries — the
/// scheme, the data key wrapped under the master key, and the master key's id (to say which key is
/// wanted). The master key itself is never stored.
/// </summary>
internal static class GalleryKeys
{
    public const string Scheme = "aes-256-gcm";
    public const string SchemeKey = "encryption", DataKeyKey = "data_key", MasterKeyIdKey = "master_key_id";

    /// <summary>The gallery's data key, null for a plain gallery; refused (nothing changed) without the right master key.</summary>
    public static byte[]? Unlock(IReadOnlyDictionary<string, string> meta, MasterKey? key, string location)
    {
        if (!meta.TryGetValue(SchemeKey, out var scheme)) return null;
        if (scheme != Scheme || !meta.TryGetValue(DataKeyKey, out var wrapped))
            throw new GalleryException(location, $"encrypted with '{scheme}', which this program does not know; nothing was changed",
                FaceNetErrorKind.CorruptStore);
        var wanted = meta.GetValueOrDefault(MasterKeyIdKey, "?");
        if (key is null) throw new GalleryException(location, $"the gallery is encrypted: its master key (id {wanted}) is needed", FaceNetErrorKind.Locked);
        return key.Unwrap(wrapped)
            ?? throw new GalleryException(location, $"the master key {key.Source} (id {key.Id}) is not this gallery's (id {wanted}); nothing was changed", FaceNetErrorKind.Locked);
    }

    /// <summary>A plain gallery that holds faces, opened with a master key: the key would protect nothing stored, so it is refused.</summary>
    public static GalleryException PlainWithKey(string location)
        => new(location, "holds faces in plain text, and a master key was given: encrypt it first ('facenet gallery encrypt', "
            + "GalleryProtection.Encrypt), or open it without the key; nothing was changed", FaceNetErrorKind.Locked) { NotEncrypted = true };

    /// <summary>The metadata entries of a data key wrapped under <paramref name="key"/>.</summary>
    public static (string Key, string Value)[] Entries(MasterKey key, byte[] dataKey)
        => [(SchemeKey, Scheme), (DataKeyKey, key.Wrap(dataKey)), (MasterKeyIdKey, key.Id)];
}
