using FaceNet.Models;

namespace FaceNet.Gallery;

/// <summary>
/// What the front ends ask of a gallery, wherever its faces are searched: in this process
/// (<see cref="FaceGallery"/>) or in shards over a cluster (FaceNet.Cluster's <c>ShardedGallery</c>).
/// Writes commit to <see cref="Store"/> first and return once the search sees them.
/// </summary>
public interface IGallery
{
    /// <summary>Where the subjects, faces and audit trail are kept.</summary>
    IGalleryStore Store { get; }

    /// <summary>Who it is, under the open-set threshold <paramref name="options"/> choose for the gallery as it is now.</summary>
    Task<Identification> IdentifyAsync(float[] embedding, ModelInfo model, IdentifyOptions options, CancellationToken ct = default);

    /// <summary>Commits the faces of one subject (made when new); the answer says which.</summary>
    Task<Enrollment> AddFacesAsync(string name, IReadOnlyList<NewFace> faces, string? metadata = null, CancellationToken ct = default);

    /// <summary>Erases the subject and every face of it, from the store and the search, before returning; false when there was none.</summary>
    Task<bool> RemoveAsync(string name, CancellationToken ct = default);

    /// <summary>Subjects and faces that can be found.</summary>
    Task<(int Subjects, int Faces)> SizeAsync(CancellationToken ct = default);
}
