using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Tests.Cli;
using FaceNet.Tests.Service;

namespace FaceNet.Tests.Gallery;

/// <summary>Enrolment holds faces to a quality floor and tells a face the gallery already knows as someone else.</summary>
public sealed class EnrollmentTests : IDisposable, IClassFixture<EnrollmentTests.Recognizer>
{
    public sealed class Recognizer : IDisposable
    {
        public FaceRecognizer Faces { get; } = FaceRecognizer.Create();
        public void Dispose() => Faces.Dispose();
    }

    private readonly TempFolder _temp = new("facenet-enrol-");
    private string _dir => _temp.Path;
    private readonly FaceRecognizer _faces;

    public EnrollmentTests(Recognizer r) => _faces = r.Faces;

    public void Dispose() => _temp.Dispose();

    private static string Face(string name) => TestImages.DataPath("faces", name);

    private FaceGallery Gallery() => FaceGallery.Open(Path.Combine(_dir, "g.db"), GalleryModel.For(_faces.Model));

    /// <summary>A portrait blurred (shrunk to 1/16 and back) and shrunk to 80 px wide: a blurred face and a small one.</summary>
    private static (RgbImage Blurred, RgbImage Small) Poor(string photo = "img1.jpg")
    {
        var img = ImageDecoder.Load(Face(photo));
        var blurred = img.Resize(img.Width / 16, img.Height / 16, ResizeMode.Area).Resize(img.Width, img.Height, ResizeMode.Bilinear);
        var small = img.Resize(80, img.Height * 80 / img.Width, ResizeMode.Area);
        return (blurred, small);
    }

    private string Save(RgbImage image, string name)
    {
        var path = Path.Combine(_dir, name);
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4) { rgba[j] = image.Pixels[i]; rgba[j + 1] = image.Pixels[i + 1]; rgba[j + 2] = image.Pixels[i + 2]; rgba[j + 3] = 255; }
        using var bmp = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(image.Width, image.Height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        using var data = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    [Fact]
    public void A_face_below_the_quality_floor_is_refused_with_its_reason_and_force_enrols_it()
    {
        var (blurred, small) = Poor();
        using var gallery = Gallery();
        var e1 = Assert.Throws<LowQualityFaceException>(() => gallery.EnrollPhoto(_faces, "Ann", Photo.Of(blurred, "blurred.png")));
        Assert.Contains("blurred", e1.Reason);
        Assert.Contains("blurred.png", e1.Message);
        var e2 = Assert.Throws<LowQualityFaceException>(() => gallery.EnrollPhoto(_faces, "Ann", Photo.Of(small, "small.png")));
        Assert.Contains("small face", e2.Reason);
        Assert.Equal(0, gallery.SubjectCount); // nothing of a refused photo is stored
        var forced = gallery.EnrollPhoto(_faces, "Ann", Photo.Of(blurred, "blurred.png"), new EnrollOptions { Force = true });
        Assert.Single(forced);
        Assert.True(forced[0].Face.Quality!.Score < FaceNet.Quality.FaceQuality.DefaultFloor);
        // the good photo passes
        var good = gallery.EnrollPhoto(_faces, "Ann", _faces.Read(Face("img1.jpg")));
        Assert.True(good[0].Face.Quality!.Score >= 0.9);
        Assert.Equal(2, gallery.FaceCount);
    }

    [Fact]
    public void A_face_already_enrolled_as_someone_else_is_reported_refused_on_request_and_listed()
    {
        using var gallery = Gallery();
        gallery.EnrollPhoto(_faces, "A", _faces.Read(Face("img1.jpg")));
        // more photos of A as A: not a duplicate
        Assert.Null(gallery.EnrollPhoto(_faces, "A", _faces.Read(Face("img4.jpg")))[0].LooksLike);
        Assert.Null(gallery.EnrollPhoto(_faces, "C", _faces.Read(Face("img3.jpg")))[0].LooksLike);
        // the same person's other photo, enrolled under another name
        var b = gallery.EnrollPhoto(_faces, "B", _faces.Read(Face("img2.jpg")));
        Assert.Equal("A", b[0].LooksLike?.Name);
        Assert.True(b[0].LooksLike!.Distance <= b[0].LooksLike!.Threshold);
        var refused = Assert.Throws<DuplicateFaceException>(() => gallery.EnrollPhoto(_faces, "D", _faces.Read(Face("img2.jpg")), new EnrollOptions { RefuseDuplicates = true }));
        Assert.Contains("'B'", refused.Reason); // img2 is B's own photo
        Assert.DoesNotContain(gallery.Store.Subjects(), s => s.Name == "D");
        var pairs = gallery.Duplicates(_faces.Model.Info);
        var pair = Assert.Single(pairs);
        Assert.Equal(("A", "B"), (pair.Subject, pair.Other));
        Assert.Equal(b[0].LooksLike!.Distance, pair.Distance, 4);
    }

    [Fact]
    public void The_cli_warns_of_duplicates_lists_them_and_refuses_poor_faces_with_the_reason()
    {
        var g = Path.Combine(_dir, "cli.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", g, "--name", "A", Face("img1.jpg")).ExitCode);
        var dup = CliRunner.Run("enroll", "-g", g, "--name", "B", Face("img2.jpg"));
        Assert.Equal(0, dup.ExitCode);
        Assert.Contains($"warning: {Face("img2.jpg")}: the face is already in the gallery as 'A' (distance ", dup.Err);
        var list = CliRunner.Run("subjects", "-g", g, "duplicates", "--json");
        Assert.True(list.ExitCode == 0, list.Err);
        var pairs = JsonDocument.Parse(list.Out).RootElement.GetProperty("pairs");
        Assert.Equal(1, pairs.GetArrayLength());
        Assert.Equal("A", pairs[0].GetProperty("a").GetString());
        Assert.Equal("B", pairs[0].GetProperty("b").GetString());

        var blurred = Save(Poor("img3.jpg").Blurred, "blurred.png");
        var poor = CliRunner.Run("enroll", "-g", g, "--name", "E", blurred);
        Assert.Equal(2, poor.ExitCode);
        Assert.Contains($"error: {blurred}: face quality ", poor.Err);
        Assert.Contains("blurred", poor.Err);
        Assert.Contains("--force", poor.Err);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", g, "--name", "E", "--force", blurred).ExitCode);
    }

    [Fact]
    public async Task The_service_answers_409_for_a_duplicate_and_422_for_a_poor_face_unless_told_otherwise()
    {
        await using var s = await RunningService.StartAsync(dir: Directory.CreateDirectory(Path.Combine(_dir, "svc")).FullName, keys: [("admin", "admin", 1000)]);
        var key = s.Keys["admin"];
        Assert.Equal(201, (await s.Post("/v1/subjects/A/faces", key, RunningService.Form(("image", Face("img1.jpg"))))).Status);
        var (status, problem, _) = await s.Post("/v1/subjects/B/faces", key, RunningService.Form(("image", Face("img2.jpg"))));
        Assert.Equal(409, status);
        Assert.Contains("'A'", problem.GetProperty("detail").GetString());
        Assert.Contains("allow_duplicate=true", problem.GetProperty("detail").GetString());
        var (ok, enrolled, _) = await s.Post("/v1/subjects/B/faces?allow_duplicate=true", key, RunningService.Form(("image", Face("img2.jpg"))));
        Assert.Equal(201, ok);
        Assert.Equal("A", enrolled.GetProperty("duplicate_of").GetString());

        var blurred = Save(Poor("img3.jpg").Blurred, "blurred-svc.png"); // another person: not a duplicate once forced
        var (poor, why, _) = await s.Post("/v1/subjects/E/faces", key, RunningService.Form(("image", blurred)));
        Assert.Equal(422, poor);
        Assert.Contains("blurred", why.GetProperty("detail").GetString());
        Assert.Equal(201, (await s.Post("/v1/subjects/E/faces?force=true", key, RunningService.Form(("image", blurred)))).Status);

        // identification says which threshold it used and why
        var (_, id, _) = await s.Post("/v1/identify?fpir=0.001", key, RunningService.Form(("image", Face("img4.jpg"))));
        var face = id.GetProperty("faces")[0];
        Assert.Contains(face.GetProperty("name").GetString(), new[] { "A", "B" }); // one person under two names
        Assert.Equal("fpir", face.GetProperty("threshold_rule").GetString());
        Assert.Equal(0.001, face.GetProperty("fpir").GetDouble());
        Assert.Equal(3, face.GetProperty("comparisons").GetInt64());
        Assert.Equal(3, id.GetProperty("subjects").GetInt32());
        Assert.True(face.GetProperty("quality").GetDouble() > 0.5);
        var (bad, badFpir, _) = await s.Post("/v1/identify?fpir=2", key, RunningService.Form(("image", Face("img4.jpg"))));
        Assert.Equal(400, bad);
        Assert.Contains("fpir", badFpir.GetProperty("detail").GetString());
    }
}
