using FaceNet.Evaluation;
using FaceNet.Tests.Cli;

namespace FaceNet.Tests.Evaluation;

public sealed class PairsFileTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-pairs-");
    private string _root => _temp.Path;

    public PairsFileTests()
    {
        foreach (var (name, n) in new[] { ("Ann", 2), ("Bob", 1) })
        {
            Directory.CreateDirectory(Path.Combine(_root, name));
            for (int i = 1; i <= n; i++) File.WriteAllBytes(Path.Combine(_root, name, $"{name}_{i:0000}.jpg"), [1]);
        }
    }

    public void Dispose() => _temp.Dispose();

    private string Write(string text)
    {
        var p = Path.Combine(_root, Guid.NewGuid().ToString("n") + ".txt");
        File.WriteAllText(p, text);
        return p;
    }

    [Fact]
    public void Lfw_format_is_read_with_folds_in_file_order()
    {
        var pairs = PairsFile.Read(Write("2 1\nAnn 1 2\nAnn 1 Bob 1\nAnn 2 1\nBob 1 Ann 2\n"), _root);
        Assert.Equal(4, pairs.Count);
        Assert.Equal([0, 0, 1, 1], pairs.Select(p => p.Fold));
        Assert.Equal([true, false, true, false], pairs.Select(p => p.Same));
        Assert.Equal(Path.Combine(_root, "Bob", "Bob_0001.jpg"), pairs[1].FileB);
    }

    [Fact]
    public void Csv_format_accepts_label_words_and_makes_balanced_folds()
    {
        var csv = "file_x,file_y,Decision\n" + string.Concat(Enumerable.Range(0, 20).Select(i =>
            $"Ann/Ann_0001.jpg,{(i % 2 == 0 ? "Ann/Ann_0002.jpg" : "Bob/Bob_0001.jpg")},{(i % 2 == 0 ? (i % 4 == 0 ? "Yes" : "1") : (i % 3 == 0 ? "no" : "false"))}\n"));
        var pairs = PairsFile.Read(Write(csv), _root);
        Assert.Equal(20, pairs.Count);
        Assert.Equal(10, pairs.Count(p => p.Same));
        Assert.All(Enumerable.Range(0, 10), f => Assert.Equal(2, pairs.Count(p => p.Fold == f)));
        Assert.All(Enumerable.Range(0, 10), f => Assert.Contains(pairs, p => p.Fold == f && p.Same));
    }

    [Fact]
    public void Lfw_view_1_files_with_a_bare_count_are_one_fold_spread_over_balanced_folds()
    {
        // pairsDevTrain.txt starts with "1100": 1100 same, then 1100 different pairs, tab-separated
        var text = "3\nAnn\t1\t2\nAnn\t2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\nBob\t1\tAnn\t2\nAnn\t2\tBob\t1\n";
        var pairs = PairsFile.Read(Write(text), _root, folds: 2);
        Assert.Equal(6, pairs.Count);
        Assert.Equal([true, true, true, false, false, false], pairs.Select(p => p.Same));
        Assert.Equal([0, 1, 0, 0, 1, 0], pairs.Select(p => p.Fold)); // k-th same and k-th different pair: fold k mod 2
        var e = Assert.Throws<PairsFileException>(() => PairsFile.Read(Write("3\nAnn\t1\t2\nAnn\t1\tBob\t1\n"), _root));
        Assert.Contains("expected a same pair", e.Reason);
    }

    [Theory]
    [InlineData("file_x,file_y,same\n")]
    [InlineData("img1,img2,label\n")]
    [InlineData("")]
    public void A_csv_header_row_is_a_header_not_a_pair(string header)
    {
        var pairs = PairsFile.Read(Write(header + "Ann/Ann_0001.jpg,Ann/Ann_0002.jpg,1\nAnn/Ann_0001.jpg,Bob/Bob_0001.jpg,0\n"), _root);
        Assert.Equal(2, pairs.Count);
        Assert.Equal(Path.Combine(_root, "Ann/Ann_0001.jpg"), pairs[0].FileA);
    }

    [Theory]
    [InlineData("ten 300\nAnn 1 2\n", 1, "bad header")]
    [InlineData("1 1\nAnn 1 2\nAnn 1 Bob\n", 3, "4 columns")]
    [InlineData("1 1\nAnn 1 2 3 4\nAnn 1 Bob 1\n", 2, "3 columns")]
    [InlineData("1 1\nAnn 1 7\nAnn 1 Bob 1\n", 2, "image not found")]
    [InlineData("1 1\nZed 1 2\nAnn 1 Bob 1\n", 2, "image not found")]
    [InlineData("1 1\nAnn x 2\nAnn 1 Bob 1\n", 2, "not an image number")]
    [InlineData("1 2\nAnn 1 2\nAnn 1 2\nAnn 1 Bob 1\n", 4, "announces")]
    [InlineData("a,b,same\nAnn/Ann_0001.jpg,Bob/Bob_0001.jpg\n", 2, "column")]
    [InlineData("a,b,same\nAnn/Ann_0001.jpg,Bob/Bob_0001.jpg,maybe\n", 2, "label")]
    public void Bad_pairs_files_exit_2_with_the_line_number(string text, int line, string reason)
    {
        var path = Write(text);
        var e = Assert.Throws<PairsFileException>(() => PairsFile.Read(path, _root));
        Assert.Equal(line, e.Line);
        Assert.Contains(reason, e.Reason);
        var r = CliRunner.Run("evaluate", "--pairs", path, "--root", _root, "--no-cache");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: {path}:{line}: ", r.Err);
        Assert.Single(r.ErrLines);
    }
}
