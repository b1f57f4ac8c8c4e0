namespace FaceNet.Gallery;

/// <summary>What changed in a gallery, in the order the store committed it.</summary>
public enum ChangeKind { Enrolled, Removed, Renamed }

/// <summary>
/// One committed change. <see cref="Faces"/> holds an enrolment's faces as they are now (empty when the
/// subject has been removed since); <see cref="Name"/> is the subject's name after a rename, or its
/// current name after an enrolment (null once the subject is erased).
/// </summary>
public sealed record GalleryChange(long Sequence, ChangeKind Kind, long SubjectId, string? Name, IReadOnlyList<StoredFace> Faces);

/// <summary>
/// One entry of a gallery's audit trail: when (set by the store), who (an API key's name, or the user of the
/// command line), which operation, about which subject, with what outcome — never a template or an image.
/// <see cref="Matched"/>: the subject was enrolled or recognised, which keeps it from expiring (retention).
/// </summary>
public sealed record AuditEvent(string Actor, string Operation, string Outcome, string? Subject = null, long? SubjectId = null)
{
    public long Sequence { get; init; }

    /// <summary>When: set by the store as it writes, unless given (a row that counts a past minute's refusals).</summary>
    public DateTime At { get; init; }
    public bool Matched { get; init; }

    /// <summary>The client's network address (the service's requests), or null.</summary>
    public string? Client { get; init; }

    /// <summary>How many requests the row stands for: 1, or a minute's refused requests of one client counted together.</summary>
    public int Count { get; init; } = 1;
}

/// <summary>The operations the audit trail names.</summary>
public static class AuditOperations
{
    public const string Verify = "verify", Identify = "identify", Enroll = "enroll", Delete = "delete", Rename = "rename", List = "list",
        Embed = "embed", Detect = "detect", Encrypt = "encrypt", Rekey = "rekey", Expire = "expire",
        TenantList = "tenant list", TenantCreate = "tenant create", TenantRemove = "tenant remove", ClusterStatus = "cluster status",
        Authenticate = "authenticate", AuditPrune = "audit prune", Liveness = "liveness";
}

/// <summary>
/// A stored face's vector (plain, opened under the data key when the gallery is encrypted), whose it is, and its yaw at
/// enrolment in degrees (NaN: not recorded, counted as frontal).
/// </summary>
public readonly record struct FaceVector(long Id, long SubjectId, float[] Embedding, float Yaw);

/// <summary>Everything a gallery holds, read in one transaction, and the change it is current to.</summary>
public sealed record GallerySnapshot(IReadOnlyList<Subject> Subjects, IReadOnlyList<StoredFace> Faces, long Sequence);

/// <summary>
/// Where a gallery lives: an SQLite file (<see cref="GalleryStore"/>) or a PostgreSQL database that several
/// service replicas share (<see cref="PostgresGalleryStore"/>). Every write is one transaction and
/// appends to a change feed, so the in-memory <see cref="FaceGallery"/> of every process using the
/// store can follow it (<see cref="ChangesSince"/>) without re-reading the gallery.
/// </summary>
public interface IGalleryStore : IDisposable
{
    /// <summary>The file, or the database (connection string without its password): named in every error.</summary>
    string Location { get; }

    /// <summary>The model the gallery is bound to.</summary>
    GalleryModel Model { get; }

    /// <summary>Enrols several subjects' faces in one transaction (all or nothing); subjects are created when new.</summary>
    IReadOnlyList<Enrollment> EnrollMany(IReadOnlyList<(string Name, IReadOnlyList<NewFace> Faces)> people, string? metadata = null);

    /// <summary>Erases a subject and its faces; its id, or null when there is no subject of that name.</summary>
    long? RemoveSubject(string name);

    /// <summary>Renames a subject; its id, or null when there is no subject of that name.</summary>
    long? RenameSubject(string oldName, string newName);

    IReadOnlyList<Subject> Subjects();

    /// <summary>Every face, in id order.</summary>
    IReadOnlyList<StoredFace> Faces();

    GallerySnapshot Snapshot();

    /// <summary>
    /// The faces of these subjects as they are now, in id order (an erased subject has none): what a compact index's
    /// candidates are re-ranked from, so that every distance an answer gives is that of the float vectors.
    /// </summary>
    IReadOnlyList<FaceVector> FacesOf(IReadOnlyCollection<long> subjects);

    /// <summary>
    /// The changes committed after <paramref name="sequence"/>, oldest first (at most <paramref name="max"/>);
    /// null when the feed no longer reaches back that far (or the store keeps none): read a snapshot instead.
    /// </summary>
    IReadOnlyList<GalleryChange>? ChangesSince(long sequence, int max = 10_000);

    /// <summary>Returns when another process may have changed the gallery, or after <paramref name="timeout"/> at the latest.</summary>
    Task WaitForChangesAsync(TimeSpan timeout, CancellationToken ct);

    /// <summary>
    /// Appends to the audit trail (append-only: the store refuses to change or delete an entry, but for
    /// blanking the name of a subject it erases), in one transaction. A matched subject is marked as used now.
    /// </summary>
    void Audit(IReadOnlyList<AuditEvent> events);

    /// <summary>The audit trail after <paramref name="after"/>, oldest first.</summary>
    IReadOnlyList<AuditEvent> AuditTrail(long after = 0, int max = 10_000);

    /// <summary>The subjects neither enrolled nor matched since <paramref name="cutoff"/> (retention).</summary>
    IReadOnlyList<string> UnusedSince(DateTime cutoff);

    /// <summary>
    /// The audit trail's own retention: deletes the entries older than <paramref name="cutoff"/> — the one deletion the
    /// trail allows — and records that it did (an <see cref="AuditOperations.AuditPrune"/> entry by
    /// <paramref name="actor"/>) in the same transaction; the number deleted.
    /// </summary>
    int PruneAudit(DateTime cutoff, string actor);

    /// <summary>Why the gallery cannot be written now (a read-only file, a role without write rights, a database in recovery); null when it can.</summary>
    string? WriteProblem();
}

public static class GalleryStoreExtensions
{
    /// <summary>Adds faces to a subject (created if new) in one transaction.</summary>
    public static Enrollment Enroll(this IGalleryStore store, string name, IReadOnlyList<NewFace> faces, string? metadata = null)
        => store.EnrollMany([(name, faces)], metadata)[0];

    public static bool Remove(this IGalleryStore store, string name) => store.RemoveSubject(name) is not null;

    /// <summary>Appends one event to the audit trail.</summary>
    public static void Audit(this IGalleryStore store, AuditEvent e) => store.Audit([e]);

    public static bool Rename(this IGalleryStore store, string oldName, string newName) => store.RenameSubject(oldName, newName) is not null;

    /// <summary>Erases a subject and records who did (the trail keeps no name of an erased person); false when there is no such subject.</summary>
    public static bool Remove(this IGalleryStore store, string name, string actor)
    {
        if (store.RemoveSubject(name) is null) return false;
        store.Audit(new AuditEvent(actor, AuditOperations.Delete, "ok"));
        return true;
    }

    /// <summary>Renames a subject and records who did, under the new name; false when there is no such subject.</summary>
    public static bool Rename(this IGalleryStore store, string oldName, string newName, string actor)
    {
        if (store.RenameSubject(oldName, newName) is not { } id) return false;
        store.Audit(new AuditEvent(actor, AuditOperations.Rename, "ok", newName, id));
        return true;
    }
}

/// <summary>Opens a gallery by where it lives: a PostgreSQL connection string (<c>Host=…;Database=…</c>) or an SQLite file path.</summary>
public static class GalleryStores
{
    /// <summary>True for a PostgreSQL connection string (keywords such as <c>Host=</c>), false for a file path.</summary>
    public static bool IsPostgres(string location)
        => location.Contains('=') && location.Split(';').Any(p => p.Split('=')[0].Trim().ToLowerInvariant() is "host" or "server");

    /// <summary>Opens a gallery; an encrypted one needs its <paramref name="key"/>, and a new one opened with a key is encrypted.</summary>
    /// <param name="create">false: an existing gallery only, never made by opening it.</param>
    public static IGalleryStore Open(string location, GalleryModel? model, bool readOnly = false, Protection.MasterKey? key = null, bool create = true)
        => IsPostgres(location) ? PostgresGalleryStore.Open(location, model, readOnly, key, create: create) : GalleryStore.Open(location, model, readOnly, key, create);

    /// <summary>Opens a plain gallery with the key that is to encrypt it: the one open of a plain gallery with faces that a key may make.</summary>
    internal static IGalleryStore OpenToEncrypt(string location, Protection.MasterKey key)
        => IsPostgres(location) ? PostgresGalleryStore.Open(location, null, false, key, null, create: false, plainWithKey: true)
            : GalleryStore.Open(location, null, false, key, create: false, plainWithKey: true);

    /// <summary>
    /// Deletes an SQLite gallery with its side files (<c>-wal</c>, <c>-shm</c>, <c>-journal</c>) and the saved
    /// HNSW graph, as far as it can (a file another process holds stays); a PostgreSQL gallery is left alone.
    /// </summary>
    public static void Delete(string location)
    {
        if (IsPostgres(location)) return;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { location, location + "-wal", location + "-shm", location + "-journal", location + ".hnsw", location + ".hnsw.stamp" })
            try { if (File.Exists(f)) File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Whether a gallery already exists there (a file, or a database holding a bound gallery).</summary>
    public static bool Exists(string location)
        => IsPostgres(location) ? PostgresGalleryStore.Exists(location) : File.Exists(location);
}
