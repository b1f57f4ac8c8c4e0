namespace FaceNet.Gallery;

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
