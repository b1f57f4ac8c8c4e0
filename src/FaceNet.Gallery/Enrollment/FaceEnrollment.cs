using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Quality;

namespace FaceNet.Gallery;

/// <summary>
/// Enrolment as one workflow for every front end: detect the photo's subject (or every face), hold each
/// face to the quality floor, check it against the other subjects, embed and commit it (a face is
/// committed before it is reported).
/// </summary>
public static class FaceEnrollment
{
    /// <summary>
    /// Enrols the faces of one photo as <paramref name="name"/>. A photo without a face is <see cref="NoFaceException"/>,
    /// a face below the floor <see cref="LowQualityFaceException"/>, a face of another subject (when refused)
    /// <see cref="DuplicateFaceException"/>, a face that is not live when the recognizer requires live faces
    /// <see cref="Liveness.PresentationAttackException"/>; nothing is enrolled from that photo then.
    /// </summary>
    public static IReadOnlyList<EnrolledFace> EnrollPhoto(this FaceGallery gallery, FaceRecognizer faces, string name, Photo photo, EnrollOptions? options = null,
        string? sourceFile = null, string? sourceSha256 = null)
    {
        options ??= new EnrollOptions();
        GalleryStore.ValidateName(name);
        var (found, crops) = Faces(faces, photo, options);
        var vectors = faces.Model.Embed(crops);
        return gallery.EnrollFaces(faces, name, photo.Name, found.Faces, found.Count, vectors, options, sourceFile, sourceSha256);
    }

    /// <summary>The faces a photo gives for enrolment, held to the quality floor, with their crops.</summary>
    public static ((IReadOnlyList<DetectedFace> Faces, int Count) Found,
        IReadOnlyList<Embedding.FaceCrops> Crops) Faces(FaceRecognizer faces, Photo photo, EnrollOptions options)
    {
        IReadOnlyList<DetectedFace> found;
        int count;
        if (options.Aligned)
        {
            var whole = new DetectedFace(new FaceBox(0, 0, photo.Image.Width, photo.Image.Height), 1, null);
            found = [whole with { Quality = FaceQuality.Measure(photo.Image, whole) }];
            count = 1;
            var crop = faces.Model.FromCrop(photo.Image);
            Check(photo.Name, found[0], options);
            faces.EnsureLive(photo, found);
            return ((found, count), [crop]);
        }
        var subject = faces.DetectMain(photo);
        if (subject.Face is null) throw new NoFaceException(photo.Name);
        count = subject.Found;
        found = subject.Chosen(options.AllFaces);
        foreach (var f in found) Check(photo.Name, f, options);
        faces.EnsureLive(photo, found); // with FaceRecognizerOptions.RequireLive: an attack is refused like a face below the floor
        return ((found, count), found.Select(f => faces.Align(photo, f)).ToList());
    }

    private static void Check(string file, DetectedFace face, EnrollOptions options)
    {
        if (!options.Force && face.Quality is { } q && q.Score < options.QualityFloor) throw new LowQualityFaceException(file, q, options.QualityFloor);
    }

    /// <summary>Commits faces already embedded (a service batches the embedding), after the duplicate check.</summary>
    public static IReadOnlyList<EnrolledFace> EnrollFaces(this FaceGallery gallery, FaceRecognizer faces, string name, string file,
        IReadOnlyList<DetectedFace> found, int count,
        IReadOnlyList<float[]> vectors, EnrollOptions options, string? sourceFile, string? sourceSha256)
        // a FaceGallery answers before its tasks are returned: no thread is blocked here
        => ((IGallery)gallery).EnrollFacesAsync(faces, name, file, found, count, vectors, options, sourceFile, sourceSha256).GetAwaiter().GetResult().Faces;

    /// <summary>
    /// As <see cref="EnrollFaces"/>, on any gallery (one in shards over a cluster too): the duplicate check is an
    /// identification that leaves the subject out; the answer carries the subject's id.
    /// </summary>
    public static async Task<(IReadOnlyList<EnrolledFace> Faces, long SubjectId)> EnrollFacesAsync(this IGallery gallery, FaceRecognizer faces, string name,
        string file, IReadOnlyList<DetectedFace> found, int count, IReadOnlyList<float[]> vectors, EnrollOptions options, string? sourceFile,
        string? sourceSha256, CancellationToken ct = default)
    {
        var looks = new List<Identification?>();
        for (int i = 0; i < vectors.Count; i++)
        {
            var v = vectors[i];
            var id = await gallery.IdentifyAsync(v, faces.Model.Info, options.Duplicates with { Excluding = name, Top = 1,
                Yaw = options.Aligned ? null : found[i].Pose?.Yaw }, ct).ConfigureAwait(false);
            looks.Add(id.Known ? id : null);
        }
        if (options.RefuseDuplicates && looks.FirstOrDefault(l => l is not null) is { } other) throw new DuplicateFaceException(file, name, other);
        var done = await gallery.AddFacesAsync(name, found.Select((f, i) => new NewFace(vectors[i], sourceFile, sourceSha256,
            options.Aligned ? null : f.Box.ToArray(), faces.Detector.Name) { Yaw = options.Aligned ? null : f.Pose?.Yaw }).ToList(), ct: ct).ConfigureAwait(false);
        return (found.Select((f, i) => new EnrolledFace(name, done.FaceIds[i], f, count, looks[i])).ToList(), done.SubjectId);
    }
}
