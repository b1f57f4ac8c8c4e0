using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Tests.Cli;

namespace FaceNet.Tests.Embedding;

/// <summary>Fused models: what the embedding is, what the identity follows, and what a broken file says.</summary>
public sealed class FusedModelTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-fused-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private string Fused(string members, double threshold = 0.9, string name = "mine")
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".json");
        File.WriteAllText(path, $$"""{"format": "facenet-fused", "name": "{{name}}", "metric": "euclidean", "threshold": {{threshold}}, "members": [{{members}}]}""");
        return path;
    }

    private const string TwoMembers = """{"model": "mobilefacenet", "weight": 1}, {"model": "faceapi-resnet", "alignment": "template:dlib", "weight": 0.5}""";

    [Fact]
    public void The_fused_embedding_is_the_weighted_unit_embeddings_renormalised()
    {
        var photo = ImageDecoder.Load(TestImages.DataPath("faces", "img1.jpg"));
        using var detector = Detectors.Create(null);
        var face = detector.Detect(photo)[0];
        using var fused = FaceModel.Load(Fused(TwoMembers));
        using var mfn = FaceModel.Load("mobilefacenet");
        using var fapi = FaceModel.Load("faceapi-resnet");
        var v = fused.Embed(fused.Align(photo, face));
        var a = mfn.Embed(mfn.Align(photo, face));
        var b = fapi.Embed(fapi.Align(photo, face));
        Assert.Equal(256, v.Length);
        double norm = Math.Sqrt(1 + 0.25); // both members are unit vectors
        for (int i = 0; i < 128; i++)
        {
            Assert.Equal(a[i] / norm, v[i], 5);
            Assert.Equal(0.5 * b[i] / norm, v[128 + i], 5);
        }
        Assert.Equal(0.9, fused.Info.Threshold);
        Assert.True(fused.IsFused);
    }

    [Fact]
    public void Identity_follows_what_changes_embeddings_not_the_threshold()
    {
        using var a = FaceModel.Load(Fused(TwoMembers, 0.9));
        using var b = FaceModel.Load(Fused(TwoMembers, 0.7));
        using var c = FaceModel.Load(Fused(TwoMembers.Replace("0.5", "0.6")));
        using var d = FaceModel.Load(Fused(TwoMembers.Replace("template:dlib", "margin:10")));
        Assert.Equal(a.Identity, b.Identity);
        Assert.NotEqual(a.Identity, c.Identity);
        Assert.NotEqual(a.Identity, d.Identity);
        Assert.StartsWith("mine:", a.Identity);
        using var plain = FaceModel.Load("mobilefacenet");
        using var flipped = FaceModel.Load("mobilefacenet", new FaceModelOptions { Flip = true });
        using var overridden = FaceModel.Load("mobilefacenet", new FaceModelOptions { Threshold = 0.5 });
        Assert.NotEqual(plain.Identity, flipped.Identity);
        Assert.Equal(plain.Identity, overridden.Identity);
    }

    [Fact]
    public void A_gallery_of_the_earlier_bundled_mobilefacenet_still_opens_with_it()
    {
        // galleries made before this release were bound to "name:hash of the file"; the model file names that binding
        using var model = FaceModel.Load("mobilefacenet");
        Assert.Contains("mobilefacenet:13ffbedf3322e24e", model.IdentityAliases);
        var db = Path.Combine(_dir, "old.db");
        using (GalleryStore.Open(db, new GalleryModel("mobilefacenet:13ffbedf3322e24e", 128, model.Info.Preprocess, FaceNet.Matching.Metric.Euclidean))) { }
        using var store = GalleryStore.Open(db, GalleryModel.For(model));
        Assert.Equal("mobilefacenet:13ffbedf3322e24e", store.Model.Id);
        using var other = FaceModel.Load("faceapi-resnet");
        var e = Assert.Throws<GalleryException>(() => GalleryStore.Open(db, GalleryModel.For(other)));
        Assert.True(e.ModelMismatch);
    }

    [Theory]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "members": []}""", "no members")]
    [InlineData("""{"format": "facenet-fused", "members": [{"model": "mobilefacenet"}]}""", "no threshold")]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "members": [{"model": "mobilefacenet", "weight": -1}]}""", "positive")]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "metric": "hamming", "members": [{"model": "mobilefacenet"}]}""", "metric")]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "members": [{"model": "mobilefacenet", "alignment": "crop"}]}""", "unknown alignment")]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "members": [{"model": "nosuch.onnx"}]}""", "not found")]
    [InlineData("""{"format": "facenet-fused", "threshold": 0.9, "members": [""", "not a valid fused model")]
    public void A_broken_fused_file_is_a_model_error_naming_the_file(string json, string reason)
    {
        var path = Path.Combine(_dir, "broken.json");
        File.WriteAllText(path, json);
        var r = CliRunner.Run("compare", "-m", path, TestImages.DataPath("faces", "img1.jpg"), TestImages.DataPath("faces", "img2.jpg"));
        Assert.Equal(3, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.StartsWith("error: ", r.Err);
        Assert.Contains(reason, r.Err);
    }

    [Fact]
    public void The_bundled_fused_model_tells_the_committed_people_apart_at_its_threshold()
    {
        string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);
        var r = CliRunner.Run("compare", "--json", Sample("person_a_1.jpg"), Sample("person_a_2.jpg"), Sample("person_b.jpg"));
        Assert.Equal(0, r.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var pairs = doc.RootElement.GetProperty("pairs").EnumerateArray().Select(p => p.GetProperty("same").GetBoolean()).ToArray();
        Assert.Equal([true, false, false], pairs);
    }
}
