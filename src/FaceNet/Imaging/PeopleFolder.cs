namespace FaceNet.Imaging;

/// <summary>
/// A folder of people as enrolment, evaluation, calibration and training take it: one sub-folder per
/// person, its name the person's, its images (searched recursively, in ordinal order) the person's photos.
/// </summary>
public static class PeopleFolder
{
    /// <summary>Everyone with at least one image, in name order; <see cref="ImageException"/> for a missing folder or no one at all.</summary>
    public static IReadOnlyList<PersonPhotos> Read(string root)
    {
        if (!Directory.Exists(root)) throw new ImageException(root, "folder not found");
        var people = new List<PersonPhotos>();
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImageFile).Order(StringComparer.Ordinal).ToList();
            if (files.Count > 0) people.Add(new PersonPhotos(Path.GetFileName(dir), files));
        }
        if (people.Count == 0) throw new ImageException(root, "no sub-folders with images (one folder per person is expected)");
        return people;
    }
}
