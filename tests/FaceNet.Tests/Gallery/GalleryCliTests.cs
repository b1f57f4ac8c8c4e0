using System.Diagnostics;
using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Tests.Cli;
using Microsoft.Data.Sqlite;
using SkiaSharp;

namespace FaceNet.Tests.Gallery;

public sealed class GalleryCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-gcli-").FullName;
    private string Db => Path.Combine(_dir, "people.db");
    private static string Face(string n) => TestImages.DataPath("faces", n);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void Enrolled_people_are_recognised_and_a_stranger_is_unknown()
    {
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "--name", "Person A", Face("img1.jpg"), Face("img2.jpg")).ExitCode);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "--name", "Person B", Face("img3.jpg")).ExitCode);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "--name", "Person C", Face("img8.jpg")).ExitCode);
        var r = CliRunner.Run("identify", "-g", Db, "--json", "--top", "2", Face("img4.jpg"), Face("img12.jpg"), Face("img9.jpg"), Face("img16.jpg"));
        Assert.Equal(0, r.ExitCode);
        var answers = r.OutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["Person A", "Person B", "Person C", null], answers.Select(a => a.GetProperty("name").GetString()));
        Assert.Equal([true, true, true, false], answers.Select(a => a.GetProperty("known").GetBoolean()));
        Assert.All(answers, a => Assert.Equal(2, a.GetProperty("candidates").GetArrayLength()));
        Assert.All(answers, a => Assert.Equal(4, a.GetProperty("box").GetArrayLength()));
        Assert.True(answers[3].GetProperty("distance").GetDouble() > answers[3].GetProperty("threshold").GetDouble());

        // every face of a group photo
        var group = CliRunner.Run("identify", "-g", Db, "--json", Face("couple.jpg"));
        Assert.Equal(2, group.OutLines.Length);

        var list = CliRunner.Run("subjects", "-g", Db, "--json");
        using var doc = JsonDocument.Parse(list.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("subjects").GetArrayLength());

        // another model: refused, nothing stored lost
        var other = CliRunner.Run("enroll", "-g", Db, "--name", "X", "-m", "faceapi-resnet", Face("img17.jpg"));
        Assert.Equal(3, other.ExitCode);
        Assert.Contains("not comparable", other.Err);
        Assert.Equal(3, JsonDocument.Parse(CliRunner.Run("subjects", "-g", Db, "--json").Out).RootElement.GetProperty("subjects").GetArrayLength());

        Assert.Equal(0, CliRunner.Run("subjects", "-g", Db, "remove", "Person C").ExitCode);
        var after = CliRunner.Run("identify", "-g", Db, "--json", Face("img9.jpg"));
        Assert.False(JsonDocument.Parse(after.Out).RootElement.GetProperty("known").GetBoolean());
        Assert.Equal(2, CliRunner.Run("subjects", "-g", Db, "remove", "Nobody").ExitCode);
        Assert.Equal(1, CliRunner.Run("subjects", "-g", Db, "frobnicate").ExitCode);
        Assert.Equal(2, CliRunner.Run("identify", "-g", Path.Combine(_dir, "missing.db"), Face("img1.jpg")).ExitCode);
    }

    [Fact]
    public void A_gallery_of_an_earlier_default_keeps_working_and_migrates_to_the_new_default()
    {
        // enrolled with MobileFaceNet (the previous default), from copies of the photos so one can go missing
        var photos = new[] { "img1.jpg", "img2.jpg", "img3.jpg", "img8.jpg" }.Select(n =>
        {
            var copy = Path.Combine(_dir, n);
            File.Copy(Face(n), copy);
            return copy;
        }).ToArray();
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "-m", "mobilefacenet", "--name", "Person A", photos[0], photos[1]).ExitCode);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "-m", "mobilefacenet", "--name", "Person B", photos[2]).ExitCode);
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "-m", "mobilefacenet", "--name", "Person C", photos[3]).ExitCode);

        // no -m: the gallery's own bundled model is used, and the user is told
        var old = CliRunner.Run("identify", "-g", Db, "--json", Face("img4.jpg"));
        Assert.Equal(0, old.ExitCode);
        Assert.Equal("Person A", JsonDocument.Parse(old.Out).RootElement.GetProperty("name").GetString());
        Assert.Contains("bound to the bundled model 'mobilefacenet'", old.Err);

        // migrate to the default (fused) model; one source photo has gone
        File.Delete(photos[3]);
        var moved = Path.Combine(_dir, "fused.db");
        var m = CliRunner.Run("migrate", "-g", Db, "--to", moved, "--json");
        Assert.Equal(2, m.ExitCode);
        Assert.Contains("img8.jpg: the photo it was enrolled from is gone", m.Err);
        Assert.Equal(3, JsonDocument.Parse(m.Out).RootElement.GetProperty("faces").GetInt32());
        var fresh = CliRunner.Run("identify", "-g", moved, "--json", Face("img4.jpg"), Face("img12.jpg"));
        Assert.Equal(0, fresh.ExitCode);
        Assert.DoesNotContain("note:", fresh.Err);
        Assert.Equal(["Person A", "Person B"], fresh.OutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()));
        using (var store = GalleryStore.Open(moved, null, readOnly: true)) Assert.StartsWith("fused:", store.Model.Id);
        Assert.Equal(1, CliRunner.Run("migrate", "-g", Db, "--to", moved).ExitCode); // never over an existing gallery
    }

    [Fact]
    public void A_bad_image_in_a_batch_of_1000_is_reported_and_the_rest_enrolled()
    {
        var files = new List<string>();
        var rng = new Random(1);
        for (int i = 0; i < 1000; i++)
        {
            var path = Path.Combine(_dir, $"face{i:0000}.png");
            if (i == 500) File.WriteAllText(path, "this is not an image");
            else
            {
                using var bmp = new SKBitmap(112, 112);
                bmp.Erase(new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
                bmp.SetPixel(i % 112, i / 112 % 112, SKColors.White);
                using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(path, data.ToArray());
            }
            files.Add(path);
        }
        var r = CliRunner.Run(["enroll", "-g", Db, "--name", "Crops", "--aligned", .. files]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"error: {files[500]}: ", r.Err);
        Assert.Contains($"1 image(s) not enrolled: {files[500]}", r.Err);
        using var store = GalleryStore.Open(Db, null, readOnly: true);
        Assert.Equal(999, store.Faces().Count);
    }

    [Fact]
    public void Cluster_groups_the_committed_photos_into_their_people()
    {
        var folder = Path.Combine(_dir, "photos");
        Directory.CreateDirectory(folder);
        var people = new Dictionary<string, string> { ["img1.jpg"] = "A", ["img2.jpg"] = "A", ["img4.jpg"] = "A", ["img3.jpg"] = "B", ["img12.jpg"] = "B", ["img8.jpg"] = "C", ["img9.jpg"] = "C", ["img16.jpg"] = "D", ["img17.jpg"] = "D" };
        foreach (var f in people.Keys) File.Copy(Face(f), Path.Combine(folder, f));
        foreach (var method in new[] { "dbscan", "whispers" })
        {
            var copy = Path.Combine(_dir, "out-" + method);
            var r = CliRunner.Run("cluster", folder, "--method", method, "--json", "--copy-to", copy);
            Assert.Equal(0, r.ExitCode);
            using var doc = JsonDocument.Parse(r.Out);
            var clusters = doc.RootElement.GetProperty("clusters").EnumerateArray()
                .Select(c => c.GetProperty("faces").EnumerateArray().Select(f => people[Path.GetFileName(f.GetProperty("file").GetString()!)]).ToList()).ToList();
            Assert.Equal(4, clusters.Count);
            double purity = clusters.Sum(c => c.GroupBy(x => x).Max(g => g.Count())) / (double)clusters.Sum(c => c.Count);
            Assert.Equal(1.0, purity);
            Assert.Equal(4, Directory.GetDirectories(copy).Length);
            Assert.Equal(3, Directory.GetFiles(Path.Combine(copy, "cluster_0")).Length);
        }
    }

    [Fact]
    public void Bench_gallery_reports_exact_and_hnsw_search()
    {
        var r = CliRunner.Run("bench", "--gallery", "--faces", "5000", "--queries", "30", "--candidates", "1", "64", "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.OutLines.Length);
        foreach (var line in r.OutLines)
        {
            var j = JsonDocument.Parse(line).RootElement;
            Assert.Equal(5000, j.GetProperty("faces").GetInt32());
            Assert.True(j.GetProperty("exact_top1_ms_median").GetDouble() > 0);
            Assert.True(j.GetProperty("hnsw_recall_at_1").GetDouble() >= 0.9);
        }
    }

    private static string CliDll => typeof(FaceNet.Cli.FaceNetCli).Assembly.Location;

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private List<string> Crops(int n, string prefix)
    {
        var files = new List<string>();
        for (int i = 0; i < n; i++)
        {
            var path = Path.Combine(_dir, $"{prefix}{i:0000}.png");
            using var bmp = new SKBitmap(112, 112);
            bmp.Erase(new SKColor((byte)(i * 7), (byte)(i * 13), (byte)(i * 29)));
            using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
            files.Add(path);
        }
        return files;
    }

    [Fact]
    public void Kill_9_during_enroll_loses_nothing_reported_and_leaves_a_sound_gallery()
    {
        var files = Crops(400, "k");
        using var child = Start(["enroll", "-g", Db, "--name", "Crops", "--aligned", .. files]);
        var reported = new List<string>();
        var sw = Stopwatch.StartNew();
        while (reported.Count < 25 && sw.Elapsed < TimeSpan.FromSeconds(120))
        {
            var line = child.StandardOutput.ReadLine();
            if (line is null) break;
            if (line.StartsWith("enrolled ", StringComparison.Ordinal)) reported.Add(line["enrolled ".Length..line.LastIndexOf(" (", StringComparison.Ordinal)]);
        }
        child.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
        child.WaitForExit();
        Assert.True(reported.Count >= 25, $"only {reported.Count} enrolments were reported before the kill");
        Assert.NotEqual(0, child.ExitCode);

        using var store = GalleryStore.Open(Db, null);
        Assert.Equal("ok", store.IntegrityCheck());
        var stored = store.Faces().Select(f => f.SourceFile).ToHashSet();
        foreach (var f in reported) Assert.Contains(Path.GetFullPath(f), stored);
        Assert.True(stored.Count < files.Count, "the child finished before it was killed; the test proved nothing");
        Assert.All(store.Faces(), f => Assert.Equal(256, f.Embedding.Length)); // the default fused model
    }

    [Fact]
    public void Two_processes_identify_while_a_third_enrolls()
    {
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "--name", "Person A", Face("img1.jpg")).ExitCode);
        var files = Crops(150, "c");
        using var writer = Start(["enroll", "-g", Db, "--name", "Crops", "--aligned", .. files]);
        var readers = Enumerable.Range(0, 2).Select(_ => Start("identify", "-g", Db, "--json", Face("img2.jpg"), Face("img4.jpg"), Face("img2.jpg"), Face("img4.jpg"))).ToList();
        foreach (var p in readers.Append(writer))
        {
            var outText = p.StandardOutput.ReadToEnd();
            var errText = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(180_000));
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {errText}");
            Assert.DoesNotContain("error", errText);
            if (p != writer) Assert.All(outText.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Equal("Person A", JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()));
            p.Dispose();
        }
        using var store = GalleryStore.Open(Db, null, readOnly: true);
        Assert.Equal(151, store.Faces().Count);
    }
}
