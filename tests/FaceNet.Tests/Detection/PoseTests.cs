using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Imaging;

namespace FaceNet.Tests.Detection;

/// <summary>
/// Head pose from five landmarks (issue 27). The stated error (HeadPose's remarks, measured on CFP's development half):
/// frontal photos read under 20°, profiles past 40° with the right sign, and a mirrored photo reads the opposite yaw
/// within 17°.
/// </summary>
public sealed class PoseTests
{
    private static RgbImage Photo(string name) => ImageDecoder.Load(TestImages.DataPath("faces", name));

    private static DetectedFace Subject(IFaceDetector detector, RgbImage image)
    {
        var faces = detector.Detect(image);
        Assert.NotEmpty(faces);
        return faces[MainFace.Index(faces, image.Width, image.Height)];
    }

    [Theory]
    [InlineData("img1.jpg")]
    [InlineData("img2.jpg")]
    [InlineData("img3.jpg")]
    [InlineData("img4.jpg")]
    [InlineData("img8.jpg")]
    [InlineData("img9.jpg")]
    [InlineData("img12.jpg")]
    [InlineData("img16.jpg")]
    [InlineData("img17.jpg")]
    public void Pose_of_a_frontal_portrait_is_under_20_degrees_and_flips_in_the_mirror(string name)
    {
        using var detector = Detectors.Create(null);
        var image = Photo(name);
        var pose = Subject(detector, image).Pose!.Value;
        Assert.InRange(Math.Abs(pose.Yaw), 0, 20);
        Assert.InRange(Math.Abs(pose.Roll), 0, 20);
        var mirrored = Subject(detector, image.FlipHorizontal()).Pose!.Value;
        Assert.InRange(Math.Abs(pose.Yaw + mirrored.Yaw), 0, 17);
    }

    [Theory]
    [InlineData("profile_img54.jpg")]
    [InlineData("profile_img59.jpg")]
    public void Pose_of_a_profile_is_past_40_degrees_towards_where_the_face_looks(string name)
    {
        using var detector = Detectors.Create(null);
        var image = Photo(name);
        // both look towards the image's right: positive yaw; their mirror images negative
        var pose = Subject(detector, image).Pose!.Value;
        Assert.True(pose.Yaw > 40, $"{name}: yaw {pose.Yaw}");
        var mirrored = Subject(detector, image.FlipHorizontal()).Pose!.Value;
        Assert.True(mirrored.Yaw < -40, $"{name} mirrored: yaw {mirrored.Yaw}");
        Assert.InRange(Math.Abs(pose.Yaw + mirrored.Yaw), 0, 17);
    }

    [Fact]
    public void Pose_from_landmarks_follows_the_mean_face_geometry()
    {
        // a frontal face: eyes level and apart by 0.95 face heights, nose on the midline at 0.57 of the way down
        FacePoint[] frontal = [new(40, 50), new(78, 50), new(59, 72.8f), new(45, 90), new(73, 90)];
        var p = HeadPose.FromLandmarks(frontal)!.Value;
        Assert.Equal(0, p.Yaw, 1);
        Assert.Equal(0, p.Pitch, 1);
        Assert.Equal(0, p.Roll, 1);
        // the same face turned 30° to the image's right: eyes together by cos 30°, the nose off the midline by 0.38·sin 30° face heights
        double c = Math.Cos(Math.PI / 6), s = Math.Sin(Math.PI / 6);
        FacePoint[] turned = [new((float)(59 - 19 * c), 50), new((float)(59 + 19 * c), 50), new((float)(59 + 0.38 * 40 * s), 72.8f), new(45, 90), new(73, 90)];
        Assert.Equal(30, HeadPose.FromLandmarks(turned)!.Value.Yaw, 0.5);
        // the image turned 90° clockwise: roll 90
        FacePoint[] rolled = frontal.Select(q => new FacePoint(200 - q.Y, q.X)).ToArray();
        Assert.Equal(90, HeadPose.FromLandmarks(rolled)!.Value.Roll, 0.5);
        Assert.Null(HeadPose.FromLandmarks(null));
        Assert.Null(HeadPose.FromLandmarks([new(1, 1), new(1, 1), new(1, 1), new(1, 1), new(1, 1)]));
    }

    [Fact]
    public void Pose_is_in_the_quality_and_carried_through_scaling()
    {
        using var faces = FaceRecognizer.Create();
        var face = faces.Detect(TestImages.DataPath("faces", "profile_img59.jpg"))[0];
        Assert.Equal(face.Pose, face.Quality!.Pose);
        Assert.Equal(face.Pose!.Value.Yaw, face.Scaled(2).Pose!.Value.Yaw, 0.2);
    }

    [Fact]
    public void Pose_of_a_profile_refuses_its_enrolment_naming_the_yaw_and_a_moderate_turn_is_taken()
    {
        var dir = Directory.CreateTempSubdirectory("facenet-pose-").FullName;
        try
        {
            using var faces = FaceRecognizer.Create();
            using (var gallery = FaceNet.Gallery.FaceGallery.Open(Path.Combine(dir, "g.db"), FaceNet.Gallery.GalleryModel.For(faces.Model)))
            {
                // refused: the reason names the weakest measure (this profile is small: 14 px between its eyes)
                var small = Assert.Throws<FaceNet.Gallery.LowQualityFaceException>(() =>
                    gallery.EnrollPhoto(faces, "Side", faces.Read(TestImages.DataPath("faces", "profile_img59.jpg"))));
                Assert.Equal(FaceNetErrorKind.QualityTooLow, small.Kind);
                Assert.Contains("small face", small.Reason);
                // at twice the size its turn is what falls short, named in degrees
                var side = Photo("profile_img59.jpg");
                side = side.Resize(side.Width * 2, side.Height * 2, ResizeMode.Bilinear);
                var quality = faces.Detect(side)[0].Quality!;
                Assert.Matches(@"^turned away \(yaw \d+°; 40° or less is good, 90° or more is useless\)$", quality.Issue);
                Assert.Equal(0, gallery.SubjectCount);
                // img16 reads a yaw of 13.5°: well inside what the gate takes
                Assert.Single(gallery.EnrollPhoto(faces, "Front", faces.Read(TestImages.DataPath("faces", "img16.jpg"))));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Pose_aware_threshold_matches_a_turned_photo_to_the_frontal_one()
    {
        using var faces = FaceRecognizer.Create();
        var v = faces.Compare(TestImages.DataPath("faces", "kit_harington_1.jpg"), TestImages.DataPath("faces", "kit_harington_2.jpg"));
        Assert.True(v.Same, $"distance {v.Distance} threshold {v.Threshold}");
        Assert.InRange(v.PoseDifference!.Value, 15, 45);
        // the threshold applied is the model's for that band, not its frontal one
        Assert.Equal(faces.Model.Info.ThresholdFor(v.PoseDifference), v.Threshold, 9);
        Assert.NotEqual(faces.Model.Info.Threshold, v.Threshold);
        // the profile found in a crop of another photo is somebody else
        var other = faces.Compare(TestImages.DataPath("faces", "kit_harington_1.jpg"), TestImages.DataPath("faces", "profile_img59.jpg"));
        Assert.False(other.Same);
        Assert.InRange(other.PoseDifference!.Value, 45, 90);
        // a threshold given by the caller is the one applied, whatever the poses
        using var fixedOne = FaceRecognizer.Create(new FaceRecognizerOptions { Threshold = 0.5 });
        var f = fixedOne.Compare(TestImages.DataPath("faces", "kit_harington_1.jpg"), TestImages.DataPath("faces", "kit_harington_2.jpg"));
        Assert.Equal(0.5, f.Threshold);
        Assert.False(f.Same);
    }
}
