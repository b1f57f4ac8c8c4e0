using FaceNet.Gallery.Protection;
using FaceNet.Imaging;

namespace FaceNet.Gallery;

/// <summary>
/// Enrolment of many people's photos into a gallery, as the command line and batch jobs run it: each photo
/// committed before it is reported, a photo that cannot be enrolled reported with its reason while the rest go
/// on, and a gallery that this run created but put nobody into removed again (no empty file or schema is left
/// behind by a run whose every photo failed).
/// </summary>
public static class PeopleEnrollment
{
    /// <summary>
    /// The people of a folder with one sub-folder per person (<see cref="PeopleFolder"/>); a folder name that
    /// cannot be a subject's name is an <see cref="ImageException"/> naming the folder, before anything is enrolled.
    /// </summary>
    public static IReadOnlyList<PersonPhotos> FromFolder(string root)
    {
        var people = PeopleFolder.Read(root);
        foreach (var person in people)
        {
            try { GalleryStore.ValidateName(person.Name); }
            catch (ArgumentException e)
            {
                throw new ImageException(Path.Combine(root, person.Name), "folder name is not usable as a person's name: " + e.Message);
            }
        }
        return people;
    }

    /// <summary>
    /// Enrols every person's photos into the gallery at <paramref name="location"/> (an SQLite file or a PostgreSQL
    /// connection string; made when missing, bound to the recognizer's model), calling <paramref name="report"/> for
    /// each photo once its faces are committed or refused. The faces enrolled, in all.
    /// </summary>
    public static int Run(FaceRecognizer faces, string location, IReadOnlyList<PersonPhotos> people, EnrollOptions options,
        Action<PhotoEnrollment> report, MasterKey? key = null)
    {
        foreach (var person in people) GalleryStore.ValidateName(person.Name);
        bool existed = GalleryStores.Exists(location);
        int enrolled = 0;
        try
        {
            using var gallery = FaceGallery.Open(location, GalleryModel.For(faces.Model), key: key);
            foreach (var person in people)
                foreach (var file in person.Files)
                {
                    PhotoEnrollment outcome;
                    try
                    {
                        var photo = options.Aligned ? Photo.Of(faces.Load(file), file) : faces.Read(file);
                        var done = gallery.EnrollPhoto(faces, person.Name, photo, options, Path.GetFullPath(file));
                        enrolled += done.Count;
                        outcome = new PhotoEnrollment(file, person.Name, done);
                    }
                    // the photo's own faults (unreadable, no face, poor, an attack, a refused duplicate): reported, the rest go on
                    catch (FaceNetException e) when (e is ImageException or DuplicateFaceException) { outcome = new PhotoEnrollment(file, person.Name, [], e); }
                    report(outcome);
                }
        }
        finally
        {
            if (!existed && enrolled == 0) GalleryStores.Delete(location);
        }
        return enrolled;
    }
}
