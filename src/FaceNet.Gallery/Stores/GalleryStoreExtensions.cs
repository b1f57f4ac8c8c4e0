namespace FaceNet.Gallery;

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
