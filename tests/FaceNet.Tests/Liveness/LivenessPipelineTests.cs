using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Liveness;

namespace FaceNet.Tests.Liveness;

/// <summary>The whole check on photos: the labelled samples, parity with the reference pipeline, refusals through the recognizer.</summary>
public sealed class LivenessPipelineTests : IDisposable
{
    private readonly FaceRecognizer _faces = FaceRecognizer.Create();

    public void Dispose() => _faces.Dispose();

    private static string Sample(string name) => LivenessFixtures.Path(name);

    [Theory]
    [InlineData("image_T1.jpg", true)]
    [InlineData("image_F1.jpg", false)]
    [InlineData("image_F2.jpg", false)]
    public void The_three_samples_are_classified_as_labelled(string file, bool live)
    {
        var results = _faces.CheckLiveness(Sample(file));
        var subject = Assert.Single(results);
        Assert.Equal(live, subject.Live);
        // the labelled samples are far from the threshold, not on it
        Assert.True(Math.Abs(subject.Score - subject.Threshold) > 0.2, $"{file}: score {subject.Score} next to the threshold {subject.Threshold}");
        Assert.Equal(2, subject.NetworkScores.Count);
    }

    [Fact]
    public void With_the_reference_box_the_pipeline_cuts_the_reference_patches_and_gets_its_scores()
    {
        // the reference detector's box, given to our pipeline: the patches are the reference's pixels (same JPEG decoder
        // output: libjpeg-turbo in both), so the score is the reference pipeline's to the networks' 1e-5
        foreach (var p in LivenessFixtures.Reference.GetProperty("photos").EnumerateArray())
        {
            var name = p.GetProperty("photo").GetString()!;
            var path = name.StartsWith("image_", StringComparison.Ordinal) ? Sample(name) : TestImages.DataPath("faces", name);
            var photo = _faces.Read(path);
            var b = LivenessFixtures.Ints(p.GetProperty("box"));
            var face = new DetectedFace(new FaceBox(b[0], b[1], b[2], b[3]), 1, null);
            var input = LivenessFixtures.Bundled.Prepare(photo, face, LivenessBoxMap.Identity);
            var patches = p.GetProperty("patches").EnumerateArray().ToList();
            for (int k = 0; k < patches.Count; k++)
            {
                var r = LivenessFixtures.Ints(patches[k].GetProperty("patch"));
                Assert.Equal(r, new[] { input.Patches[k].Left, input.Patches[k].Top, input.Patches[k].Right, input.Patches[k].Bottom });
                Assert.Equal(LivenessFixtures.Crop(patches[k].GetProperty("crop").GetString()!).Pixels, input.Crops[k].Pixels);
            }
            var result = LivenessFixtures.Bundled.Score([input])[0];
            Assert.Equal(p.GetProperty("score").GetDouble(), result.Score, 1e-5);
        }
    }

    [Fact]
    public void Our_detector_boxes_are_mapped_onto_the_reference_proportions()
    {
        var face = new DetectedFace(new FaceBox(100, 100, 200, 240), 1, null);
        var mapped = _faces.LivenessBoxes.Map(face);
        Assert.Equal("yunet", _faces.LivenessBoxes.Detector);
        Assert.True(mapped.Width > 220 && mapped.Width < 235, $"width {mapped.Width}");   // reference boxes are wider …
        Assert.True(mapped.Height > 205 && mapped.Height < 220, $"height {mapped.Height}"); // … and less tall
        Assert.True(mapped.Y + mapped.Height / 2 > 230, "centre lower");                  // and sit lower on the face
        Assert.Same(LivenessBoxMap.Identity, LivenessBoxMap.For("haar-unknown"));
    }

    [Fact]
    public void A_recognizer_that_requires_live_faces_refuses_an_attack_in_compare_and_embed()
    {
        using var strict = FaceRecognizer.Create(new FaceRecognizerOptions { RequireLive = true });
        var e = Assert.Throws<PresentationAttackException>(() => strict.Compare(Sample("image_T1.jpg"), Sample("image_F2.jpg")));
        Assert.Equal(FaceNetErrorKind.PresentationAttack, e.Kind);
        Assert.Contains("image_F2.jpg", e.Message);
        Assert.Equal(false, e.Result.Live);
        Assert.Throws<PresentationAttackException>(() => strict.Embed(Sample("image_F1.jpg")));
        // a live face passes; without the option nothing is checked
        Assert.Single(strict.Embed(Sample("image_T1.jpg")));
        Assert.Single(_faces.Embed(Sample("image_F1.jpg")));
    }

    [Fact]
    public void A_face_too_small_to_judge_is_unjudged_and_refused_unless_allowed()
    {
        // the live sample shrunk until its face is below the smallest side the check judges
        var photo = ImageDecoder.Load(Sample("image_T1.jpg"));
        var tiny = photo.Resize(photo.Width / 10, photo.Height / 10, ResizeMode.Area);
        var found = _faces.Detect(tiny);
        Assert.NotEmpty(found);
        var result = _faces.CheckLiveness(Photo.Of(tiny, "tiny.png"), found[0]);
        Assert.Null(result.Live);
        Assert.Contains("too small", result.Reason);
        Assert.True(result.Refused(UnjudgedFaces.Refuse));
        Assert.False(result.Refused(UnjudgedFaces.Allow));
        using var strict = FaceRecognizer.Create(new FaceRecognizerOptions { RequireLive = true });
        var e = Assert.Throws<PresentationAttackException>(() => strict.Embed(Photo.Of(tiny, "tiny.png"), found));
        Assert.Contains("cannot be judged", e.Reason);
        using var lenient = FaceRecognizer.Create(new FaceRecognizerOptions { RequireLive = true, LivenessUnjudged = UnjudgedFaces.Allow });
        Assert.Single(lenient.Embed(Photo.Of(tiny, "tiny.png"), found));
    }

    [Fact]
    public void A_liveness_network_is_refused_as_a_face_model_and_a_face_model_as_a_liveness_network()
    {
        var net = LivenessFixtures.Bundled.Networks[0].Path;
        var asFace = Assert.Throws<FaceNet.Embedding.ModelException>(() => FaceRecognizer.Create(new FaceRecognizerOptions { Model = net }));
        Assert.Contains("liveness", asFace.Reason);
        var face = FaceNet.Models.BundledModels.Find("mobilefacenet")!;
        var asLiveness = Assert.Throws<FaceNet.Embedding.ModelException>(() => LivenessModel.Load(face));
        Assert.Contains("not a liveness network", asLiveness.Reason);
    }

    [Fact]
    public void The_json_record_has_the_contract_names_and_a_reason_only_when_unjudged()
    {
        var face = new DetectedFace(new FaceBox(1, 2, 3, 4), 1, null);
        var judged = System.Text.Json.JsonSerializer.Serialize(LivenessJson.Of(new LivenessResult(face, true, 0.91, 0.5, null)));
        Assert.Equal("""{"box":[1,2,3,4],"live":true,"score":0.91,"threshold":0.5}""", judged);
        var unjudged = System.Text.Json.JsonSerializer.Serialize(LivenessJson.Of(new LivenessResult(face, null, 0.2, 0.5, "face too small")));
        Assert.Equal("""{"box":[1,2,3,4],"live":null,"score":0.2,"threshold":0.5,"reason":"face too small"}""", unjudged);
    }
}
