using System.Net;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>One service for the tests of this class: default model and detector, an SQLite gallery, three keys.</summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public RunningService Service { get; private set; } = null!;
    public string Admin { get; private set; } = "";
    public string VerifyOnly { get; private set; } = "";
    public string Slow { get; private set; } = "";

    public async Task InitializeAsync()
    {
        // a batch waits 25 ms for other requests' faces (2 by default): on a test machine busy with other tests, 12 requests sent at once
        // still arrive within it, and the batching test does not depend on the scheduler's timing
        Service = await StartAsync(o => o with { BatchWait = TimeSpan.FromMilliseconds(25) }, keys: [("admin", "admin", 1000), ("kiosk", "verify", 1000), ("slow", "verify", 0.1)]);
        (Admin, VerifyOnly, Slow) = (Service.Keys["admin"], Service.Keys["kiosk"], Service.Keys["slow"]);
    }

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

public sealed class ServiceTests(ServiceFixture f) : IClassFixture<ServiceFixture>
{
    private RunningService S => f.Service;

    [Fact]
    public async Task Verify_tells_the_same_man_from_another_with_the_models_threshold()
    {
        var (status, same, _) = await S.Post("/v1/verify", f.VerifyOnly, Form(("image1", Sample("person_a_1.jpg")), ("image2", Sample("person_a_2.jpg"))));
        Assert.Equal(200, status);
        Assert.True(same.GetProperty("same").GetBoolean());
        Assert.InRange(same.GetProperty("distance").GetDouble(), 0.3, 0.8);
        Assert.Equal(S.Host.Recognizer.Threshold, same.GetProperty("threshold").GetDouble(), 6);
        Assert.Contains("LFW", same.GetProperty("threshold_source").GetString());
        Assert.Equal(2, same.GetProperty("faces").GetArrayLength());
        Assert.Equal(4, same.GetProperty("faces")[0].GetProperty("box").GetArrayLength());

        var (_, other, _) = await S.Post("/v1/verify", f.VerifyOnly, Form(("image1", Sample("person_a_1.jpg")), ("image2", Sample("person_b.jpg"))));
        Assert.False(other.GetProperty("same").GetBoolean());
        Assert.True(other.GetProperty("distance").GetDouble() > same.GetProperty("distance").GetDouble() + 0.3);

        // the answer is the library's, to the digit
        var v = S.Host.Recognizer.Compare(Sample("person_a_1.jpg"), Sample("person_b.jpg"));
        Assert.Equal(v.Distance, other.GetProperty("distance").GetDouble(), 5);
    }

    [Fact]
    public async Task Embed_and_detect_give_every_face_with_boxes_landmarks_and_unit_embeddings()
    {
        var (status, body, _) = await S.Post("/v1/embed", f.VerifyOnly, Form(("image", Face("couple.jpg"))));
        Assert.Equal(200, status);
        var faces = body.GetProperty("faces");
        Assert.Equal(2, faces.GetArrayLength());
        foreach (var face in faces.EnumerateArray())
        {
            var e = face.GetProperty("embedding").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(S.Host.Recognizer.Model.Info.EmbeddingSize, e.Length);
            Assert.Equal(1.0, Math.Sqrt(e.Sum(x => x * x)), 3);
            Assert.Equal(5, face.GetProperty("landmarks").GetArrayLength());
        }
        Assert.Equal(S.Host.Recognizer.Model.Identity, body.GetProperty("model_id").GetString());

        var (_, detected, _) = await S.Post("/v1/detect", f.VerifyOnly, Form(("image", Face("couple.jpg"))));
        Assert.Equal(2, detected.GetProperty("faces").GetArrayLength());
        Assert.False(detected.GetProperty("faces")[0].TryGetProperty("embedding", out _));
        Assert.Equal(faces[0].GetProperty("box").ToString(), detected.GetProperty("faces")[0].GetProperty("box").ToString());
    }

    [Fact]
    public async Task Enrol_identify_list_and_erase_a_subject()
    {
        var (status, enrolled, res) = await S.Post("/v1/subjects/Ada%20L/faces", f.Admin, Form(("image", Face("img1.jpg"))));
        Assert.Equal(201, status);
        Assert.Equal("Ada L", enrolled.GetProperty("subject").GetString());
        Assert.Equal("/v1/subjects/Ada%20L", res.Headers.Location!.OriginalString);
        await S.Post("/v1/subjects/Ada%20L/faces", f.Admin, Form(("image", Face("img2.jpg"))));

        var (_, hit, _) = await S.Post("/v1/identify", f.Admin, Form(("image", Face("img4.jpg"))));
        var face = hit.GetProperty("faces")[0];
        Assert.True(face.GetProperty("known").GetBoolean());
        Assert.Equal("Ada L", face.GetProperty("name").GetString());
        Assert.True(face.GetProperty("distance").GetDouble() <= face.GetProperty("threshold").GetDouble());

        // someone never enrolled: unknown, not a best guess, with the nearest as a candidate
        var (_, miss, _) = await S.Post("/v1/identify", f.Admin, Form(("image", Face("img8.jpg"))));
        var stranger = miss.GetProperty("faces")[0];
        Assert.False(stranger.GetProperty("known").GetBoolean());
        Assert.Equal(JsonValueKind.Null, stranger.GetProperty("name").ValueKind);
        Assert.True(stranger.GetProperty("distance").GetDouble() > stranger.GetProperty("threshold").GetDouble());

        var (_, list, _) = await S.Send(HttpMethod.Get, "/v1/subjects", f.Admin);
        Assert.Contains(list.GetProperty("subjects").EnumerateArray(), s => s.GetProperty("name").GetString() == "Ada L" && s.GetProperty("faces").GetInt32() == 2);

        Assert.Equal(204, (await S.Send(HttpMethod.Delete, "/v1/subjects/Ada%20L", f.Admin)).Status);
        var (_, after, _) = await S.Post("/v1/identify", f.Admin, Form(("image", Face("img4.jpg"))));
        Assert.DoesNotContain(after.GetProperty("faces")[0].GetProperty("candidates").EnumerateArray(), c => c.GetProperty("name").GetString() == "Ada L");
        var (gone, problem, _) = await S.Send(HttpMethod.Delete, "/v1/subjects/Ada%20L", f.Admin);
        Assert.Equal(404, gone);
        Assert.Contains("Ada L", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Keys_are_needed_scopes_are_checked_and_revoked_keys_refused()
    {
        var form = () => Form(("image", Face("img1.jpg")));
        var (none, p1, r1) = await S.Post("/v1/detect", null, form());
        Assert.Equal(401, none);
        Assert.Equal("application/problem+json", r1.Content.Headers.ContentType!.MediaType);
        Assert.Contains("X-API-Key", p1.GetProperty("detail").GetString());
        Assert.Equal(401, (await S.Post("/v1/detect", "fnk_not-a-key", form())).Status);
        var (forbidden, p3, _) = await S.Post("/v1/subjects/Eve/faces", f.VerifyOnly, form());
        Assert.Equal(403, forbidden);
        Assert.Contains("enroll", p3.GetProperty("detail").GetString());
        Assert.Equal(403, (await S.Send(HttpMethod.Delete, "/v1/subjects/Eve", f.VerifyOnly)).Status);

        var temp = S.AddKey("temp", "verify");
        await Task.Delay(1100);
        Assert.Equal(200, (await S.Post("/v1/detect", temp, form())).Status);
        Assert.True(FaceNet.Service.Keys.ApiKeys.Revoke(S.KeysFile, "temp"));
        Assert.DoesNotContain(temp, File.ReadAllText(S.KeysFile));
        await Task.Delay(1100);
        Assert.Equal(401, (await S.Post("/v1/detect", temp, form())).Status);
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after()
    {
        var statuses = new List<int>();
        HttpResponseMessage? limited = null;
        for (int i = 0; i < 5; i++)
        {
            var (status, _, res) = await S.Send(HttpMethod.Get, "/v1/subjects", f.Slow);
            statuses.Add(status);
            if (status == 429) limited ??= res;
        }
        // one request per 10 s: the first passes the rate (and is refused its scope: 403), the rest wait
        // (a token that comes due during the run may let one more through)
        Assert.Equal(403, statuses[0]);
        Assert.All(statuses, st => Assert.True(st is 403 or 429));
        Assert.True(statuses.Count(st => st == 429) >= 3, string.Join(",", statuses));
        Assert.True(int.Parse(limited!.Headers.GetValues("Retry-After").Single()) >= 1);
    }

    [Fact]
    public async Task Bad_requests_get_problems_that_name_the_problem()
    {
        // not multipart
        var (s1, p1, _) = await S.Post("/v1/verify", f.Admin, new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(415, s1);
        Assert.Contains("multipart/form-data", p1.GetProperty("detail").GetString());
        // not an image: the field and the reason
        var text = new MultipartFormDataContent { { Part(Encoding.UTF8.GetBytes("hello")), "image", "notes.txt" } };
        var (s2, p2, _) = await S.Post("/v1/detect", f.Admin, text);
        Assert.Equal(400, s2);
        Assert.Contains("notes.txt", p2.GetProperty("detail").GetString());
        Assert.Contains("not a supported image", p2.GetProperty("detail").GetString());
        // a decompression bomb: a PNG header claiming 100000 × 100000 pixels
        var (s3, p3, _) = await S.Post("/v1/detect", f.Admin, new MultipartFormDataContent { { Part(BombPng()), "image", "bomb.png" } });
        Assert.Equal(400, s3);
        Assert.Contains("pixels", p3.GetProperty("detail").GetString());
        // no face
        var (s4, p4, _) = await S.Post("/v1/verify", f.Admin, new MultipartFormDataContent { { Part(Plain()), "image1", "wall.png" }, { Part(File.ReadAllBytes(Sample("person_b.jpg"))), "image2", "b.jpg" } });
        Assert.Equal(400, s4);
        Assert.Contains("no face", p4.GetProperty("detail").GetString());
        Assert.Contains("wall.png", p4.GetProperty("detail").GetString());
        // a field missing
        var (s5, p5, _) = await S.Post("/v1/verify", f.Admin, Form(("image1", Sample("person_b.jpg"))));
        Assert.Equal(400, s5);
        Assert.Contains("image2", p5.GetProperty("detail").GetString());
        // a name with a control character, never used as anything but data
        var (s6, p6, _) = await S.Post("/v1/subjects/bad%0Aname/faces", f.Admin, Form(("image", Face("img1.jpg"))));
        Assert.Equal(400, s6);
        Assert.Contains("control character", p6.GetProperty("detail").GetString());
        // out of range
        Assert.Equal(400, (await S.Post("/v1/identify?top=0", f.Admin, Form(("image", Face("img1.jpg"))))).Status);
        // unknown route, wrong method
        var (s7, p7, _) = await S.Send(HttpMethod.Get, "/v1/nothing", f.Admin);
        Assert.Equal(404, s7);
        Assert.Contains("/v1/nothing", p7.GetProperty("detail").GetString());
        Assert.Equal(405, (await S.Send(HttpMethod.Get, "/v1/verify", f.Admin)).Status);
    }

    [Fact]
    public async Task Health_metrics_openapi_reference_and_page_are_served_without_a_key()
    {
        Assert.Equal("ok", await S.Http.GetStringAsync("/healthz"));
        Assert.Equal("ready", await S.Http.GetStringAsync("/readyz"));
        await S.Post("/v1/embed", f.Admin, Form(("image", Face("img3.jpg"))));
        var metrics = await S.Http.GetStringAsync("/metrics");
        var embedded = metrics.Split('\n').Single(l => l.StartsWith("facenet_faces_embedded_total "));
        Assert.True(double.Parse(embedded.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Contains("http_request_duration_seconds_bucket", metrics);
        Assert.Contains("facenet_stage_seconds_bucket{stage=\"detect\"", metrics);
        Assert.Contains("facenet_gallery_faces", metrics);

        using var doc = JsonDocument.Parse(await S.Http.GetStringAsync("/openapi/v1.json"));
        var paths = doc.RootElement.GetProperty("paths");
        foreach (var p in new[] { "/v1/verify", "/v1/embed", "/v1/detect", "/v1/identify", "/v1/subjects", "/v1/subjects/{name}/faces", "/v1/subjects/{name}" })
            Assert.True(paths.TryGetProperty(p, out _), p);
        // generated from the handlers: their query options and typed answers, not written beside them
        var identify = paths.GetProperty("/v1/identify").GetProperty("post");
        Assert.Equal(["top", "fpir", "liveness", "liveness_unjudged"], identify.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.Contains("IdentifyResponse", identify.GetProperty("responses").GetProperty("200").GetRawText());
        Assert.Contains("EnrollResponse", paths.GetProperty("/v1/subjects/{name}/faces").GetProperty("post").GetProperty("responses").GetProperty("201").GetRawText());
        Assert.True(paths.GetProperty("/v1/subjects/{name}").GetProperty("delete").GetProperty("responses").TryGetProperty("204", out _));
        Assert.Contains("application/problem+json", identify.GetProperty("responses").GetProperty("401").GetRawText());
        Assert.Equal("X-API-Key", doc.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").GetProperty("name").GetString());
        Assert.Equal(FaceNet.Service.FaceServiceHost.PackageVersion, doc.RootElement.GetProperty("info").GetProperty("version").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", FaceNet.Service.FaceServiceHost.PackageVersion);
        Assert.Contains("<title>FaceNet for .NET</title>", await S.Http.GetStringAsync("/"));
        var reference = await S.Http.GetAsync("/docs/");
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await S.Http.GetAsync("/docs/scalar.js")).StatusCode); // served from the package, no CDN
    }

    [Fact]
    public async Task Concurrent_requests_share_embedding_batches()
    {
        string before = await S.Http.GetStringAsync("/metrics");
        var tasks = Enumerable.Range(0, 12).Select(i => S.Post("/v1/embed", f.Admin, Form(("image", Face(i % 2 == 0 ? "img1.jpg" : "img3.jpg"))))).ToList();
        var results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.Equal(200, r.Status));
        string after = await S.Http.GetStringAsync("/metrics");
        double Value(string text, string name) => double.Parse(text.Split('\n').Single(l => l.StartsWith(name + " ")).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        double faces = Value(after, "facenet_embed_batch_faces_sum") - Value(before, "facenet_embed_batch_faces_sum");
        double batches = Value(after, "facenet_embed_batch_faces_count") - Value(before, "facenet_embed_batch_faces_count");
        Assert.Equal(12, faces);
        Assert.True(batches < faces, $"{faces} faces in {batches} batches: no request shared a batch");
    }

    internal static byte[] BombPng() => FaceNet.Tests.Imaging.ImageDecoderTests.PngHeaderOnly(100_000, 100_000);

    internal static byte[] Plain()
    {
        using var bmp = new SKBitmap(320, 240);
        bmp.Erase(new SKColor(180, 170, 160));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
