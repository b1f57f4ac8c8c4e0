using System.Text.Json;
using FaceNet.Tests.Cli;

namespace FaceNet.Tests.EndToEnd;

/// <summary>A model whose metric is cosine, through import, compare, a gallery and the same verdicts.</summary>
public sealed class CosineTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-cosine-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);

    [Fact]
    public void Cosine_distances_are_half_the_squared_euclidean_ones_and_give_the_same_verdicts()
    {
        var model = Path.Combine(_dir, "mfn-cosine.onnx");
        var bundled = FaceNet.Models.BundledModels.Find("mobilefacenet")!;
        // the euclidean threshold 1.1509 is a cosine distance of 1.1509² / 2 = 0.6623
        var import = CliRunner.Run("import", bundled, "-o", model, "--metric", "cosine", "--threshold", "0.6623");
        Assert.Equal(0, import.ExitCode);

        var files = new[] { Sample("person_a_1.jpg"), Sample("person_a_2.jpg"), Sample("person_b.jpg") };
        using var cos = JsonDocument.Parse(CliRunner.Run(["compare", "--json", "-m", model, .. files]).Out);
        using var euc = JsonDocument.Parse(CliRunner.Run(["compare", "--json", "-m", "mobilefacenet", .. files]).Out);
        Assert.Equal("cosine", cos.RootElement.GetProperty("metric").GetString());
        var c = cos.RootElement.GetProperty("pairs").EnumerateArray().ToList();
        var e = euc.RootElement.GetProperty("pairs").EnumerateArray().ToList();
        for (int i = 0; i < c.Count; i++)
        {
            double de = e[i].GetProperty("distance").GetDouble();
            Assert.Equal(de * de / 2, c[i].GetProperty("distance").GetDouble(), 4);
            Assert.Equal(e[i].GetProperty("same").GetBoolean(), c[i].GetProperty("same").GetBoolean());
        }

        // a gallery bound to the cosine model answers in cosine units
        var db = Path.Combine(_dir, "g.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", db, "-m", model, "--name", "A", files[0]).ExitCode);
        var who = CliRunner.Run("identify", "-g", db, "-m", model, "--json", files[1], files[2]);
        Assert.Equal(0, who.ExitCode);
        var answers = who.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["A", null], answers.Select(a => a.GetProperty("name").GetString()));
        Assert.Equal(c[0].GetProperty("distance").GetDouble(), answers[0].GetProperty("distance").GetDouble(), 4);
        // and refuses the euclidean one: same network, not the same distances
        Assert.Equal(3, CliRunner.Run("identify", "-g", db, "-m", "mobilefacenet", files[1]).ExitCode);
    }
}
