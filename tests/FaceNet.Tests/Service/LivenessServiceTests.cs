using System.Text.Json;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>
/// Liveness in the service: POST /v1/liveness answers a verdict per face, and ?liveness=true on verify, enrol and identify
/// refuses a photo held up to the camera with a 422 of its own problem type (apart from the quality 422), audited as an
/// attack and counted; a live face goes through as before.
/// </summary>
public sealed class LivenessServiceTests
{
    private static string Sample(string name) => TestImages.DataPath("liveness", name);

    [Fact]
    public async Task A_photo_held_up_to_the_camera_is_refused_where_liveness_is_asked_and_a_live_face_goes_through()
    {
        await using var s = await StartAsync(gallery: "people.db", dir: Directory.CreateTempSubdirectory("facenet-live-").FullName, keys: [("admin", "admin", 1000)]);
        var admin = s.Keys["admin"];

        var (status, live, _) = await s.Post("/v1/liveness", admin, Form(("image", Sample("image_T1.jpg"))));
        Assert.Equal(200, status);
        var face = live.GetProperty("faces")[0];
        Assert.True(face.GetProperty("live").GetBoolean());
        Assert.True(face.GetProperty("score").GetDouble() >= face.GetProperty("threshold").GetDouble());
        Assert.Equal(4, face.GetProperty("box").GetArrayLength());
        var (_, attack, _) = await s.Post("/v1/liveness", admin, Form(("image", Sample("image_F1.jpg"))));
        Assert.False(attack.GetProperty("faces")[0].GetProperty("live").GetBoolean());

        // enrolment: the live face is enrolled, the attack refused with its own problem, nothing stored
        Assert.Equal(201, (await s.Post("/v1/subjects/Real/faces?liveness=true", admin, Form(("image", Sample("image_T1.jpg"))))).Status);
        var (refused, problem, _) = await s.Post("/v1/subjects/Fake/faces?liveness=true", admin, Form(("image", Sample("image_F1.jpg"))));
        Assert.Equal(422, refused);
        Assert.Equal("/problems/presentation-attack", problem.GetProperty("type").GetString());
        Assert.False(problem.GetProperty("live").GetBoolean());
        Assert.True(problem.GetProperty("score").GetDouble() < problem.GetProperty("threshold").GetDouble());
        Assert.DoesNotContain(s.Host.Gallery!.Store.Subjects(), x => x.Name == "Fake");
        // without the option the same photo is enrolled as before
        Assert.Equal(201, (await s.Post("/v1/subjects/Fake/faces?allow_duplicate=true", admin, Form(("image", Sample("image_F1.jpg"))))).Status);

        // verify and identify hold the faces they use to it
        Assert.Equal(422, (await s.Post("/v1/verify?liveness=true", admin, Form(("image1", Sample("image_F2.jpg")), ("image2", Sample("image_T1.jpg"))))).Status);
        Assert.Equal(422, (await s.Post("/v1/identify?liveness=true", admin, Form(("image", Sample("image_F1.jpg"))))).Status);
        var (named, who, _) = await s.Post("/v1/identify?liveness=true", admin, Form(("image", Sample("image_T1.jpg"))));
        Assert.Equal(200, named);
        Assert.Equal("Real", who.GetProperty("faces")[0].GetProperty("name").GetString());
        Assert.Equal(400, (await s.Post("/v1/identify?liveness=true&liveness_unjudged=maybe", admin, Form(("image", Sample("image_T1.jpg"))))).Status);

        // refusals are audit events of their own and a metric
        Assert.Equal(3, s.Host.Gallery.Store.AuditTrail().Count(e => e.Outcome == "attack"));
        var metrics = await s.Http.GetStringAsync("/metrics");
        Assert.Contains("facenet_liveness_refused_total 3", metrics);
    }

    [Fact]
    public async Task A_face_that_cannot_be_judged_is_refused_unless_allowed()
    {
        await using var s = await StartAsync(gallery: "people.db", dir: Directory.CreateTempSubdirectory("facenet-live-").FullName, keys: [("admin", "admin", 1000)]);
        // a grey photo: the networks expect colour, so its faces cannot be judged
        var grey = Path.Combine(s.Dir, "grey.png");
        var photo = FaceNet.Imaging.ImageDecoder.Load(Sample("image_T1.jpg")); // upright, as the service reads it
        using (var g = new SkiaSharp.SKBitmap(photo.Width, photo.Height))
        {
            for (int y = 0; y < photo.Height; y++)
                for (int x = 0; x < photo.Width; x++)
                {
                    var (r, gr, b) = photo[x, y];
                    byte v = (byte)((r * 299 + gr * 587 + b * 114) / 1000);
                    g.SetPixel(x, y, new SkiaSharp.SKColor(v, v, v));
                }
            File.WriteAllBytes(grey, g.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100).ToArray());
        }
        var (_, verdict, _) = await s.Post("/v1/liveness", s.Keys["admin"], Form(("image", grey)));
        var face = verdict.GetProperty("faces")[0];
        Assert.Equal(JsonValueKind.Null, face.GetProperty("live").ValueKind);
        Assert.False(string.IsNullOrEmpty(face.GetProperty("reason").GetString()));
        var (refused, problem, _) = await s.Post("/v1/subjects/Grey/faces?liveness=true", s.Keys["admin"], Form(("image", grey)));
        Assert.Equal(422, refused);
        Assert.Equal(JsonValueKind.Null, problem.GetProperty("live").ValueKind);
        Assert.Equal(201, (await s.Post("/v1/subjects/Grey/faces?liveness=true&liveness_unjudged=allow", s.Keys["admin"], Form(("image", grey)))).Status);
    }
}
