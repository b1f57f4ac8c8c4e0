using FaceNet.Evaluation;
using FaceNet.Gallery;
using FaceNet.Imaging;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// The workflows front ends call, run as library calls on real photos: enrolment of many people, grouping a folder
/// into people, comparing several photos at once, audited subject changes, embedding face crops, calibration.
/// </summary>
public sealed class WorkflowTests : IDisposable, IClassFixture<EnrollmentTests.Recognizer>
{
    private readonly TempFolder _temp = new("facenet-workflow-");
    private readonly FaceRecognizer _faces;

    public WorkflowTests(EnrollmentTests.Recognizer r) => _faces = r.Faces;

    public void Dispose() => _temp.Dispose();

    private static string Face(string name) => TestImages.DataPath("faces", name);

    /// <summary>A folder of people: PERSON/photo for each pair, plus whatever is written into it by <paramref name="extra"/>.</summary>
    private string People(string name, params (string Person, string Photo)[] photos)
    {
        var root = Path.Combine(_temp.Path, name);
        foreach (var (person, photo) in photos)
        {
            Directory.CreateDirectory(Path.Combine(root, person));
            File.Copy(Face(photo), Path.Combine(root, person, photo));
        }
        return root;
    }

    [Fact]
    public void Enrolment_of_people_commits_each_photo_reports_a_bad_one_and_goes_on()
    {
        var root = People("people", ("ada", "img1.jpg"), ("ada", "img2.jpg"), ("ben", "img3.jpg"));
        var broken = Path.Combine(root, "ben", "broken.jpg");
        File.WriteAllText(broken, "this is not an image");
        var db = Path.Combine(_temp.Path, "g.db");
        var seen = new List<PhotoEnrollment>();
        int enrolled = PeopleEnrollment.Run(_faces, db, PeopleEnrollment.FromFolder(root), new EnrollOptions(), seen.Add);

        Assert.Equal(3, enrolled);
        Assert.Equal(4, seen.Count);
        var bad = Assert.Single(seen, s => s.Error is not null);
        Assert.Equal(broken, bad.File);
        Assert.Equal(FaceNetErrorKind.NotAnImage, bad.Error!.Kind);
        Assert.Empty(bad.Faces);
        using var store = GalleryStore.Open(db, null, readOnly: true);
        Assert.Equal(new[] { ("ada", 2), ("ben", 1) }, store.Subjects().Select(s => (s.Name, s.Faces)).OrderBy(s => s.Name));
        // the source file of every face is kept, for a later migration to another model
        Assert.All(store.Faces(), f => Assert.True(File.Exists(f.SourceFile)));
    }

    [Fact]
    public void A_gallery_an_enrolment_made_and_put_nobody_into_is_removed_and_a_bad_folder_name_is_refused_first()
    {
        var db = Path.Combine(_temp.Path, "empty.db");
        var nobody = Path.Combine(_temp.Path, "nobody.png");
        File.WriteAllText(nobody, "not a png");
        var seen = new List<PhotoEnrollment>();
        Assert.Equal(0, PeopleEnrollment.Run(_faces, db, [new PersonPhotos("ann", [nobody])], new EnrollOptions(), seen.Add));
        Assert.NotNull(Assert.Single(seen).Error);
        Assert.False(File.Exists(db));

        // an existing gallery is never removed, even when a run adds nobody
        var kept = Path.Combine(_temp.Path, "kept.db");
        PeopleEnrollment.Run(_faces, kept, [new PersonPhotos("ann", [Face("img1.jpg")])], new EnrollOptions(), _ => { });
        PeopleEnrollment.Run(_faces, kept, [new PersonPhotos("ann", [nobody])], new EnrollOptions(), _ => { });
        Assert.True(File.Exists(kept));

        var root = People("badnames", ("ann ", "img1.jpg"));
        var e = Assert.Throws<ImageException>(() => PeopleEnrollment.FromFolder(root));
        Assert.Contains("ann ", e.File);
        Assert.Contains("not usable as a person's name", e.Reason);
    }

    [Fact]
    public void A_folder_is_grouped_into_its_people_by_both_methods_and_an_unreadable_photo_is_reported()
    {
        var folder = Path.Combine(_temp.Path, "photos");
        Directory.CreateDirectory(folder);
        var people = new Dictionary<string, string> { ["img1.jpg"] = "A", ["img2.jpg"] = "A", ["img4.jpg"] = "A", ["img3.jpg"] = "B", ["img12.jpg"] = "B",
            ["img8.jpg"] = "C", ["img9.jpg"] = "C", ["img16.jpg"] = "D", ["img17.jpg"] = "D" };
        foreach (var f in people.Keys) File.Copy(Face(f), Path.Combine(folder, f));
        File.WriteAllText(Path.Combine(folder, "zz.jpg"), "not a jpeg");
        foreach (var method in new[] { ClusterMethod.Dbscan, ClusterMethod.ChineseWhispers })
        {
            var groups = PhotoClustering.Group(_faces, folder, new PhotoClusterOptions { Method = method, KeepCrops = true });
            Assert.Equal(10, groups.Photos);
            Assert.Equal(Path.Combine(folder, "zz.jpg"), Assert.Single(groups.Unreadable).File);
            Assert.Equal(_faces.Model.Info.Threshold, groups.Eps);
            var clusters = groups.Clusters.Select(c => c.Select(i => people[Path.GetFileName(groups.Faces[i].File)]).ToList()).ToList();
            Assert.Equal(4, clusters.Count);
            Assert.All(clusters, c => Assert.Single(c.Distinct()));
            Assert.Equal(3, clusters[0].Count); // largest first
            Assert.All(groups.Faces, f => Assert.NotNull(f.Crop));
        }
        // no crops unless asked: a large library's faces are not all held as images
        Assert.All(PhotoClustering.Group(_faces, folder).Faces, f => Assert.Null(f.Crop));
    }

    [Fact]
    public void Comparing_several_photos_gives_each_pair_the_verdict_of_comparing_the_two()
    {
        string[] files = ["img1.jpg", "img2.jpg", "img3.jpg"];
        var faces = files.Select(f => _faces.EmbedFaces(Face(f), PhotoFaces.Subject).Faces).ToList();
        var all = _faces.CompareAll(faces);
        for (int i = 0; i < 3; i++)
        {
            Assert.Null(all[i, i]);
            for (int j = 0; j < 3; j++)
            {
                if (i == j) continue;
                var pair = _faces.Compare(Face(files[i]), Face(files[j]));
                Assert.Equal(pair.Distance, all[i, j]!.Distance, 6);
                Assert.Equal(pair.Same, all[i, j]!.Same);
                Assert.Equal(all[j, i]!.Distance, all[i, j]!.Distance, 6);
            }
        }
        Assert.True(all[0, 1]!.Same);
        Assert.False(all[0, 2]!.Same);
    }

    [Fact]
    public void A_face_crop_is_embedded_whole_and_a_group_photo_gives_every_face_or_its_subject()
    {
        var crop = _faces.EmbedFaces(Face("img1.png"), PhotoFaces.WholeImage);
        var image = ImageDecoder.Load(Face("img1.png"));
        Assert.Equal(1, crop.Found);
        Assert.Equal(new FaceNet.Detection.FaceBox(0, 0, image.Width, image.Height), Assert.Single(crop.Faces).Face.Box);
        Assert.Equal(_faces.EmbedCrop(image), crop.Faces[0].Vector);

        var every = _faces.EmbedFaces(Face("couple.jpg"), PhotoFaces.All);
        var subject = _faces.EmbedFaces(Face("couple.jpg"), PhotoFaces.Subject);
        Assert.Equal(2, every.Found);
        Assert.Equal(2, every.Faces.Count);
        Assert.Equal(2, subject.Found);
        Assert.Single(subject.Faces);
    }

    [Fact]
    public void Erasing_and_renaming_a_subject_is_written_to_the_audit_trail_with_who_did_it()
    {
        var db = Path.Combine(_temp.Path, "audited.db");
        PeopleEnrollment.Run(_faces, db, [new PersonPhotos("ann", [Face("img1.jpg")]), new PersonPhotos("bob", [Face("img3.jpg")])], new EnrollOptions(), _ => { });
        using var store = GalleryStore.Open(db, null);
        Assert.True(store.Rename("ann", "anna", "cli:tester"));
        Assert.True(store.Remove("bob", "cli:tester"));
        Assert.False(store.Remove("nobody", "cli:tester"));
        var trail = store.AuditTrail().TakeLast(2).ToList();
        Assert.Equal((AuditOperations.Rename, "anna", "cli:tester"), (trail[0].Operation, trail[0].Subject, trail[0].Actor));
        Assert.Equal((AuditOperations.Delete, (string?)null, "cli:tester"), (trail[1].Operation, trail[1].Subject, trail[1].Actor));
        Assert.Equal(["anna"], store.Subjects().Select(s => s.Name));
    }

    [Fact]
    public void Calibration_sets_a_threshold_for_the_target_rate_and_writes_a_model_that_carries_it()
    {
        var root = People("calib", ("ada", "img1.jpg"), ("ada", "img2.jpg"), ("ada", "img4.jpg"), ("ben", "img3.jpg"), ("ben", "img12.jpg"),
            ("cy", "img8.jpg"), ("cy", "img9.jpg"), ("dee", "img16.jpg"), ("dee", "img17.jpg"));
        var done = Calibrator.Run(_faces, new CalibrationRequest(root) { Goal = CalibrationGoal.BestAccuracy });
        Assert.Equal(6, done.Result.GenuinePairs); // ada 3, the others 1 each
        Assert.Equal(30, done.Result.ImpostorPairs); // the other 36 - 6 pairs of 9 photos
        Assert.Equal(0, done.Result.Far);
        Assert.Equal(0, done.Result.Frr);
        Assert.Contains("the most accurate threshold", done.Note);
        var path = Path.Combine(_temp.Path, "calibrated.json");
        Calibrator.SaveModel(_faces, done, path);
        using var copy = FaceNet.Embedding.FaceModel.Load(path);
        Assert.Equal(Math.Round(done.Result.Threshold, 6), copy.Info.Threshold, 6);

        Assert.Throws<ArgumentException>(() => Calibrator.CheckModelPath(_faces, Path.Combine(_temp.Path, "calibrated.onnx")));
        Assert.Throws<ArgumentException>(() => Calibrator.Run(_faces, new CalibrationRequest(root) { Rate = 1.5 }));
        Assert.Throws<ArgumentException>(() => Calibrator.Run(_faces, new CalibrationRequest(root) { PoseFrom = [root] }));
    }
}
