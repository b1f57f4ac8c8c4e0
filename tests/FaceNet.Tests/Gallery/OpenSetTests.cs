using FaceNet.Gallery;
using FaceNet.Matching;
using FaceNet.Models;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

/// <summary>Identification under a target FPIR: the impostor tail's lookup, and what the rule does in a large gallery.</summary>
public sealed class OpenSetTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-openset-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static readonly ImpostorTail Table = new(
        [new TailPoint(1e-2, 0.95, 100_000), new TailPoint(1e-3, 0.85, 10_000), new TailPoint(1e-4, 0.78, 1_000), new TailPoint(1e-5, 0.70, 100)], 10_000_000, "test");

    [Fact]
    public void The_lookup_is_exact_at_the_tables_points_and_log_linear_between_them()
    {
        foreach (var p in Table.Points)
        {
            Assert.Equal(p.Threshold, Table.ThresholdAt(p.Far, out bool extrapolated), 9);
            Assert.False(extrapolated);
        }
        // half-way between 1e-3 and 1e-4 in log space: √10 · 1e-4
        Assert.Equal((0.85 + 0.78) / 2, Table.ThresholdAt(Math.Sqrt(10) * 1e-4, out _), 9);
        // below the table: the last segment goes on, and says so
        Assert.Equal(0.70 - 0.08, Table.ThresholdAt(1e-6, out bool beyond), 9);
        Assert.True(beyond);
        // above the table: the first point's threshold, never looser
        Assert.Equal(0.95, Table.ThresholdAt(0.5, out _), 9);
    }

    [Theory]
    [InlineData(0.01, 1, 0.01)]
    [InlineData(0.01, 3000, 3.35012e-6)]
    [InlineData(0.001, 1000, 1.0005e-6)]
    public void The_per_comparison_rate_keeps_the_chance_of_any_false_match_at_the_target(double fpir, long n, double expected)
    {
        double rate = ImpostorTail.PerComparisonRate(fpir, n);
        Assert.Equal(expected, rate, expected * 1e-4);
        Assert.Equal(fpir, 1 - Math.Pow(1 - rate, n), 1e-12);
    }

    [Fact]
    public void A_table_made_from_distances_gives_their_quantiles_and_reads_back_from_its_json()
    {
        var r = new Random(3);
        var d = Enumerable.Range(0, 1_000_000).Select(_ => 0.5 + r.NextDouble()).ToArray(); // uniform on [0.5, 1.5]
        var tail = ImpostorTail.FromDistances(d, "uniform");
        Assert.Equal(1_000_000, tail.Pairs);
        Assert.Equal(1e-2, tail.Points[0].Far);
        Assert.Equal(5e-6, tail.SmallestFar); // 1e-6 would leave one pair: fewer than the five a point needs
        foreach (var p in tail.Points)
        {
            Assert.Equal(0.5 + p.Far, p.Threshold, 3 * Math.Sqrt(p.Far / 1e6) + 1e-5);
            Assert.Equal((long)Math.Floor(p.Far * 1_000_000 + 1e-9), p.Pairs);
        }
        var back = ImpostorTail.Parse(tail.ToJson());
        Assert.Equal(tail.Points, back.Points);
        Assert.Equal("uniform", back.Source);
        Assert.Throws<FormatException>(() => ImpostorTail.Parse("{\"points\": [[2, 0.5]]}"));
    }

    [Fact]
    public void In_a_gallery_of_3000_the_verification_threshold_names_strangers_and_the_fpir_rule_keeps_them_unknown()
    {
        // 3,000 people in a 16-d embedding space (random directions are near one another there, as faces are), one face each;
        // the model's impostor tail and its 1:1 threshold (FAR 0.2 %) measured on other people of the same kind
        const int dim = 16;
        var r = new Random(11);
        var others = Enumerable.Range(0, 3000).Select(_ => Unit(r, dim)).ToArray();
        var impostors = new List<double>();
        for (int i = 0; i < others.Length; i++)
            for (int j = i + 1; j < others.Length; j++) impostors.Add(Distance.Euclidean(others[i], others[j]));
        var tail = ImpostorTail.FromDistances(impostors.ToArray(), "synthetic people");
        var model = new ModelInfo { Name = "m", EmbeddingSize = dim, Threshold = tail.ThresholdAt(2e-3, out _), ImpostorTail = tail };

        var people = Enumerable.Range(0, 3000).Select(_ => Unit(r, dim)).ToArray();
        using var gallery = FaceGallery.Open(Path.Combine(_dir, "g.db"), new GalleryModel("m", dim, "fixed", Metric.Euclidean));
        gallery.Store.EnrollMany(people.Select((p, i) => ($"P{i}", (IReadOnlyList<NewFace>)[new NewFace(p)])).ToList());
        gallery.Reload();
        Assert.Equal(3000, gallery.SubjectCount);

        var strangers = Enumerable.Range(0, 300).Select(_ => Unit(r, dim)).ToArray();
        int namedByVerification = strangers.Count(s => gallery.Identify(s, model.Threshold).Known);
        var rule = strangers.Select(s => gallery.Identify(s, model, new IdentifyOptions())).ToList();
        int namedByRule = rule.Count(id => id.Known);
        Assert.True(namedByVerification > 250, $"the 1:1 threshold named {namedByVerification} of 300 strangers");
        Assert.True(namedByRule <= 9, $"the FPIR rule named {namedByRule} of 300 strangers (target 1 %)");
        var used = rule[0].Rule!;
        Assert.Equal(ThresholdRule.Fpir, used.Rule);
        Assert.Equal(3000, used.Comparisons);
        Assert.Equal(0.01, used.Fpir);
        Assert.Equal(ImpostorTail.PerComparisonRate(0.01, 3000), used.ComparisonFar!.Value, 12);
        Assert.True(used.Threshold < model.Threshold);

        // enrolled people, seen again a little differently, are still found
        int found = 0;
        for (int i = 0; i < 200; i++)
        {
            var id = gallery.Identify(Near(people[i], r, 0.06f), model, new IdentifyOptions());
            if (id.Known && id.Name == $"P{i}") found++;
        }
        Assert.True(found >= 190, $"{found} of 200 enrolled people found");

        // a given threshold wins; a model without a tail keeps the 1:1 rule and says so
        Assert.Equal(ThresholdRule.Given, gallery.Identify(strangers[0], model, new IdentifyOptions { Threshold = 0.5 }).Rule!.Rule);
        var bare = gallery.Identify(strangers[0], model with { ImpostorTail = null }, new IdentifyOptions());
        Assert.Equal(ThresholdRule.Verification, bare.Rule!.Rule);
        Assert.Equal(model.Threshold, bare.Threshold);
    }

    [Fact]
    public void A_small_gallery_keeps_the_verification_threshold()
    {
        var model = new ModelInfo { Threshold = 0.9, ImpostorTail = Table };
        var t = OpenSetThreshold.For(model, 2);
        Assert.Equal(0.9, t.Threshold); // FAR 5e-3 would allow 0.91: never looser than 1:1
        Assert.Equal(ThresholdRule.Fpir, t.Rule);
    }
}
