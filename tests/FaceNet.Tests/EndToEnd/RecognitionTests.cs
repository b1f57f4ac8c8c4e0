using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Tests.EndToEnd;

/// <summary>Detect → align → embed on committed photos of four people.</summary>
public sealed class RecognitionTests
{
    private static readonly (string File, string Person)[] Photos =
    [
        ("img1.jpg", "A"), ("img2.jpg", "A"), ("img4.jpg", "A"),
        ("img3.jpg", "B"), ("img12.jpg", "B"),
        ("img8.jpg", "C"), ("img9.jpg", "C"),
        ("img16.jpg", "D"), ("img17.jpg", "D"),
    ];

    private static List<(string Person, float[] Embedding)> EmbedAll(FaceRecognizer pipeline)
        => Photos.Select(p =>
        {
            var faces = pipeline.Embed(ImageDecoder.Load(TestImages.DataPath("faces", p.File)));
            Assert.True(faces.Count == 1, $"{p.File}: {faces.Count} faces");
            return (p.Person, faces[0].Vector);
        }).ToList();

    private static IEnumerable<(bool Same, double Distance)> Pairs(List<(string Person, float[] Embedding)> e, Metric metric)
    {
        for (int i = 0; i < e.Count; i++)
            for (int j = i + 1; j < e.Count; j++)
                yield return (e[i].Person == e[j].Person, Distance.Of(metric, e[i].Embedding, e[j].Embedding));
    }

    [Theory]
    [InlineData("yunet")]
    [InlineData("mtcnn")]
    public void Default_model_separates_same_from_different_people_at_its_threshold(string detector)
    {
        using var pipeline = FaceRecognizer.From(Detectors.Create(Detectors.Parse(detector)), FaceModel.Load(null));
        var pairs = Pairs(EmbedAll(pipeline), pipeline.Model.Info.Metric).ToList();
        double worstSame = pairs.Where(p => p.Same).Max(p => p.Distance);
        double bestDifferent = pairs.Where(p => !p.Same).Min(p => p.Distance);
        Assert.True(worstSame < bestDifferent, $"same pairs up to {worstSame:F3}, different pairs from {bestDifferent:F3}");
        double t = pipeline.Model.Info.Threshold;
        Assert.All(pairs, p => Assert.Equal(p.Same, p.Distance <= t));
    }

    [Fact]
    public void Faceapi_model_ranks_same_person_pairs_closer()
    {
        using var pipeline = FaceRecognizer.From(Detectors.Create(DetectorKind.YuNet), FaceModel.Load("faceapi-resnet"));
        var pairs = Pairs(EmbedAll(pipeline), Metric.Euclidean).ToList();
        double same = pairs.Where(p => p.Same).Average(p => p.Distance);
        double different = pairs.Where(p => !p.Same).Average(p => p.Distance);
        Assert.True(same < different - 0.05, $"mean same {same:F3}, mean different {different:F3}");
        // AUC well above chance
        var auc = FaceNet.Evaluation.Protocol.Auc(pairs.Select(p => p.Distance).ToArray(), pairs.Select(p => p.Same).ToArray());
        Assert.True(auc > 0.9, $"AUC {auc:F3}");
    }

    [Fact]
    public void Flip_averaging_keeps_unit_length_and_the_ranking()
    {
        using var pipeline = FaceRecognizer.From(Detectors.Create(DetectorKind.YuNet), FaceModel.Load("mobilefacenet", new FaceModelOptions { Flip = true }));
        var e = EmbedAll(pipeline);
        Assert.All(e, x => Assert.Equal(1.0, Math.Sqrt(x.Embedding.Sum(v => (double)v * v)), 4));
        var pairs = Pairs(e, Metric.Euclidean).ToList();
        Assert.True(pairs.Where(p => p.Same).Max(p => p.Distance) < pairs.Where(p => !p.Same).Min(p => p.Distance));

        // and it is the flip: the normalised sum of the crop's and its mirror image's embeddings, not the crop's alone
        using var plain = FaceModel.Load("mobilefacenet");
        var photo = ImageDecoder.Load(TestImages.DataPath("faces", "img1.jpg"));
        var face = pipeline.Detector.Detect(photo)[0];
        var crop = plain.Align(photo, face).Primary;
        var a = plain.Embed(plain.FromCrop(crop));
        var b = plain.Embed(plain.FromCrop(crop.FlipHorizontal()));
        var expected = a.Zip(b, (x, y) => x + y).ToArray();
        L2.NormalizeInPlace(expected);
        var flipped = pipeline.Embed(photo, [face])[0].Vector;
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], flipped[i], 5);
        Assert.True(Distance.Euclidean(a, flipped) > 1e-3, "flip averaging changed nothing");
    }

    [Fact]
    public void All_faces_of_a_group_photo_are_embedded_largest_first()
    {
        using var pipeline = FaceRecognizer.From(Detectors.Create(DetectorKind.YuNet), FaceModel.Load(null));
        var image = ImageDecoder.Load(TestImages.DataPath("faces", "selfie-many-people.jpg"));
        var faces = pipeline.Embed(image);
        Assert.True(faces.Count >= 5);
        for (int i = 1; i < faces.Count; i++) Assert.True(faces[i - 1].Face.Box.Area >= faces[i].Face.Box.Area);
        Assert.True(pipeline.EmbedMain(image).FacesFound > 1);
    }

    [Fact]
    public void Alignment_crops_have_the_model_input_size_even_at_the_border()
    {
        using var pipeline = FaceRecognizer.From(Detectors.Create(DetectorKind.YuNet), FaceModel.Load(null));
        var image = ImageDecoder.Load(TestImages.DataPath("faces", "img1.jpg"));
        var face = pipeline.Detector.Detect(image)[0];
        // cut the photo through the face: the face now touches the left border
        int cut = (int)(face.Box.X + face.Box.Width * 0.3f);
        var cropped = image.Crop(cut, 0, image.Width - cut, image.Height);
        var found = pipeline.Detector.Detect(cropped);
        Assert.NotEmpty(found);
        var crop = pipeline.Model.Align(cropped, found[0]).Primary;
        Assert.Equal((112, 112), (crop.Width, crop.Height));
        var margin = FaceNet.Alignment.FaceAligner.Align(cropped, found[0], FaceNet.Alignment.AlignmentSpec.Parse("margin:10"), 160);
        Assert.Equal((160, 160), (margin.Width, margin.Height));
    }
}
