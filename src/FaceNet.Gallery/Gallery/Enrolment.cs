using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Quality;

namespace FaceNet.Gallery;

/// <summary>How faces are enrolled: which faces of a photo, how good they must be, what to do with a face the gallery already knows as someone else.</summary>
public sealed record EnrolOptions
{
    /// <summary>Faces below this quality (<see cref="FaceQuality.Score"/>) are refused with the reason; 0 takes every face.</summary>
    public double QualityFloor { get; init; } = FaceQuality.DefaultFloor;

    /// <summary>Enrol faces below the floor anyway.</summary>
    public bool Force { get; init; }

    /// <summary>Every face of the photo instead of its subject.</summary>
    public bool AllFaces { get; init; }

    /// <summary>The photo is already a face crop: the whole image is the face.</summary>
    public bool Aligned { get; init; }

    /// <summary>Refuse (<see cref="DuplicateFaceException"/>) a face that the gallery identifies as another subject; else enrol it and report the other subject.</summary>
    public bool RefuseDuplicates { get; init; }

    /// <summary>The search that decides whether a face is another subject's (a target FPIR by default).</summary>
    public IdentifyOptions Duplicates { get; init; } = new();
}

/// <summary>A face enrolled: its id, the face as found, how many faces the photo held, and the other subject it looks like, if any.</summary>
public sealed record EnrolledFace(string Name, long FaceId, DetectedFace Face, int FacesInPhoto, Identification? LooksLike);

/// <summary>A face too poor to enrol: the reason is its quality's weakest measure.</summary>
public sealed class LowQualityFaceException(string file, FaceQuality quality, double floor)
    : ImageException(file, $"face quality {quality.Score:F2} is below the enrolment floor {floor:F2}: {quality.Issue}", FaceNetErrorKind.QualityTooLow)
{
    public FaceQuality Quality { get; } = quality;
}

/// <summary>A face the gallery already identifies as another subject.</summary>
public sealed class DuplicateFaceException(string file, string name, Identification other)
    : FaceNetException(file, $"the face is already enrolled as '{other.Name}' (distance {other.Distance:F3} within the threshold {other.Threshold:F3}); not enrolled as '{name}'", kind: FaceNetErrorKind.Duplicate)
{
    public string Name { get; } = name;
    public Identification Other { get; } = other;
}

/// <summary>
/// Enrolment as one workflow for every front end: detect the photo's subject (or every face), hold each
/// face to the quality floor, check it against the other subjects, embed and commit it (a face is
/// committed before it is reported).
/// </summary>
public static class Enrolment
{
    /// <summary>
    /// Enrols the faces of one photo as <paramref name="name"/>. A photo without a face is <see cref="NoFaceException"/>,
    /// a face below the floor <see cref="LowQualityFaceException"/>, a face of another subject (when refused)
    /// <see cref="DuplicateFaceException"/>, a face that is not live when the recognizer requires live faces
    /// <see cref="Liveness.PresentationAttackException"/>; nothing is enrolled from that photo then.
    /// </summary>
    public static IReadOnlyList<EnrolledFace> EnrolPhoto(this FaceGallery gallery, FaceRecognizer faces, string name, Photo photo, EnrolOptions? options = null,
        string? sourceFile = null, string? sourceSha256 = null)
    {
        options ??= new EnrolOptions();
        GalleryStore.ValidateName(name);
        var (found, crops) = Faces(faces, photo, options);
        var vectors = faces.Model.Embed(crops);
        return gallery.EnrolFaces(faces, name, photo.Name, found.Faces, found.Count, vectors, options, sourceFile, sourceSha256);
    }

    /// <summary>The faces a photo gives for enrolment, held to the quality floor, with their crops.</summary>
    public static ((IReadOnlyList<DetectedFace> Faces, int Count) Found,
        IReadOnlyList<Embedding.FaceCrops> Crops) Faces(FaceRecognizer faces, Photo photo, EnrolOptions options)
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

    private static void Check(string file, DetectedFace face, EnrolOptions options)
    {
        if (!options.Force && face.Quality is { } q && q.Score < options.QualityFloor) throw new LowQualityFaceException(file, q, options.QualityFloor);
    }

    /// <summary>Commits faces already embedded (a service batches the embedding), after the duplicate check.</summary>
    public static IReadOnlyList<EnrolledFace> EnrolFaces(this FaceGallery gallery, FaceRecognizer faces, string name, string file,
        IReadOnlyList<DetectedFace> found, int count,
        IReadOnlyList<float[]> vectors, EnrolOptions options, string? sourceFile, string? sourceSha256)
        // a FaceGallery answers before its tasks are returned: no thread is blocked here
        => ((IGallery)gallery).EnrolFacesAsync(faces, name, file, found, count, vectors, options, sourceFile, sourceSha256).GetAwaiter().GetResult().Faces;

    /// <summary>
    /// As <see cref="EnrolFaces"/>, on any gallery (one in shards over a cluster too): the duplicate check is an
    /// identification that leaves the subject out; the answer carries the subject's id.
    /// </summary>
    public static async Task<(IReadOnlyList<EnrolledFace> Faces, long SubjectId)> EnrolFacesAsync(this IGallery gallery, FaceRecognizer faces, string name,
        string file, IReadOnlyList<DetectedFace> found, int count, IReadOnlyList<float[]> vectors, EnrolOptions options, string? sourceFile,
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
