namespace FaceNet.Gallery.Protection;

/// <summary>What a store does to encrypt itself, change its master key or its data key.</summary>
internal interface IProtectedStore
{
    bool Encrypted { get; }

    /// <summary>False when it was encrypted already: then its files are only cleaned again (a run killed while cleaning).</summary>
    bool Encrypt(MasterKey key);

    void Rekey(MasterKey next, bool rotateDataKey);
}

/// <summary>
/// Encryption at rest of a gallery (SQLite or PostgreSQL): every stored face vector sealed with
/// AES-256-GCM under the gallery's data key, the data key stored only wrapped by a master key
/// (<see cref="MasterKey"/>). Open an encrypted gallery by passing its key to
/// <see cref="GalleryStores.Open"/> or <see cref="FaceGallery.Open(string, GalleryModel?, bool, FaceIndexOptions?, MasterKey?)"/>;
/// a new gallery opened with a key is encrypted from the start.
/// </summary>
public static class GalleryProtection
{
    /// <summary>Whether the gallery there stores its faces encrypted (opening it needs no key to tell).</summary>
    public static bool IsEncrypted(string location)
    {
        try
        {
            using var store = GalleryStores.Open(location, null, readOnly: true);
            return false;
        }
        catch (GalleryException e) when (e.Kind == FaceNetErrorKind.Locked) { return true; }
    }

    /// <summary>
    /// Encrypts a plain gallery in place under a new data key wrapped by <paramref name="key"/>, in one
    /// transaction: a crash leaves it plain or encrypted, never half. Then the old plain bytes are cleaned
    /// out of the files (SQLite: VACUUM; PostgreSQL: VACUUM FULL of the faces table). Returns false for a
    /// gallery encrypted already under this key: its files are cleaned again, which finishes a run that
    /// was killed after its commit.
    /// </summary>
    public static bool Encrypt(string location, MasterKey key, string actor = "library")
    {
        using var store = GalleryStores.OpenToEncrypt(location, key);
        bool now = ((IProtectedStore)store).Encrypt(key);
        store.Audit(new AuditEvent(actor, AuditOperations.Encrypt, now ? $"ok: master key {key.Id}" : "encrypted already: files cleaned again"));
        return now;
    }

    /// <summary>
    /// Wraps the gallery's data key under <paramref name="next"/> instead of <paramref name="current"/>
    /// (one metadata row; no face is re-encrypted). With <paramref name="rotateDataKey"/>, a new data key
    /// too, and every face re-encrypted under it (one transaction, as <see cref="Encrypt"/>).
    /// </summary>
    public static void Rekey(string location, MasterKey current, MasterKey next, bool rotateDataKey = false, string actor = "library")
    {
        using var store = GalleryStores.Open(location, null, key: current);
        ((IProtectedStore)store).Rekey(next, rotateDataKey);
        store.Audit(new AuditEvent(actor, AuditOperations.Rekey, $"ok: master key {next.Id}{(rotateDataKey ? ", new data key" : "")}"));
    }
}
