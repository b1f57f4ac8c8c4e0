using System.Diagnostics;
using System.Text.Json;
using FaceNet.Gallery;
using FaceNet.Tests.Cli;
using Microsoft.Data.Sqlite;
using SkiaSharp;

namespace FaceNet.Tests.Gallery;

[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class GalleryCliTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-gcli-");
    private string _dir => _temp.Path;
    private string Db => Path.Combine(_dir, "people.db");
    private static string Face(string n) => TestImages.DataPath("faces", n);

    public void Dispose() => _temp.Dispose();

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
        var r = CliRunner.Run(["enroll", "-g", Db, "--name", "Crops", "--aligned", "--force", .. files]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"error: {files[500]}: ", r.Err);
        Assert.Contains($"1 image(s) not enrolled: {files[500]}", r.Err);
        using var store = GalleryStore.Open(Db, null, readOnly: true);
        Assert.Equal(999, store.Faces().Count);
    }

    [Fact]
    public void Group_maps_its_method_and_writes_json_and_the_groups_crops_and_cluster_folder_still_works()
    {
        var folder = Path.Combine(_dir, "photos");
        Directory.CreateDirectory(folder);
        var people = new Dictionary<string, string> { ["img1.jpg"] = "A", ["img2.jpg"] = "A", ["img4.jpg"] = "A", ["img3.jpg"] = "B", ["img12.jpg"] = "B", ["img8.jpg"] = "C", ["img9.jpg"] = "C", ["img16.jpg"] = "D", ["img17.jpg"] = "D" };
        foreach (var f in people.Keys) File.Copy(Face(f), Path.Combine(folder, f));
        foreach (var method in new[] { "whispers" }) // the grouping itself is the library's (WorkflowTests); here, what the command adds
        {
            var copy = Path.Combine(_dir, "out-" + method);
            var r = CliRunner.Run("group", folder, "--method", method, "--json", "--copy-to", copy);
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
        // the earlier name still groups, and says what it is called now
        var old = CliRunner.Run("cluster", folder, "--json");
        Assert.Equal(0, old.ExitCode);
        Assert.Contains("is now 'facenet group FOLDER'", old.Err);
        Assert.Equal(4, JsonDocument.Parse(old.Out).RootElement.GetProperty("clusters").GetArrayLength());
    }

    [Fact]
    public void Bench_gallery_reports_exact_and_hnsw_search()
    {
        var r = CliRunner.Run("bench", "gallery", "--faces", "5000", "--queries", "30", "--candidates", "1", "64", "--dimensions", "64", "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.OutLines.Length);
        foreach (var line in r.OutLines)
        {
            var j = JsonDocument.Parse(line).RootElement;
            Assert.Equal(5000, j.GetProperty("faces").GetInt32());
            Assert.Equal(64, j.GetProperty("dimensions").GetInt32());
            Assert.True(j.GetProperty("exact_top1_ms_median").GetDouble() > 0);
            Assert.True(j.GetProperty("hnsw_recall_at_1").GetDouble() >= 0.9);
            // a saved graph holds at least each face's 64 int8 values; the graph in memory at least what it saves
            Assert.InRange(j.GetProperty("graph_saved_bytes_per_face").GetDouble(), 64, j.GetProperty("graph_bytes_per_face").GetDouble());
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
        using var child = Start(["enroll", "-g", Db, "--name", "Crops", "--aligned", "--force", .. files]);
        var reported = new List<string>();
        var lines = LinesOf(child);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        // lines are read on their own task: a child that hangs without printing cannot hang the test
        while (reported.Count < 25 && DateTime.UtcNow < deadline)
        {
            if (!lines.Reader.TryRead(out var line))
            {
                if (lines.Reader.Completion.IsCompleted) break;
                Thread.Sleep(5);
                continue;
            }
            if (line.StartsWith("enrolled ", StringComparison.Ordinal)) reported.Add(line["enrolled ".Length..line.LastIndexOf(" (", StringComparison.Ordinal)]);
        }
        child.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
        Assert.True(child.WaitForExit(30_000), "the killed child did not end");
        Assert.True(reported.Count >= 25, $"only {reported.Count} enrolments were reported before the kill");
        Assert.NotEqual(0, child.ExitCode);

        using var store = GalleryStore.Open(Db, null);
        Assert.Equal("ok", store.IntegrityCheck());
        var stored = store.Faces().Select(f => f.SourceFile).ToHashSet();
        foreach (var f in reported) Assert.Contains(Path.GetFullPath(f), stored);
        Assert.True(stored.Count < files.Count, "the child finished before it was killed; the test proved nothing");
        Assert.All(store.Faces(), f => Assert.Equal(256, f.Embedding.Length)); // the default fused model
    }

    /// <summary>A process's output lines, read on a task of their own (never a blocking read on the test's thread).</summary>
    private static System.Threading.Channels.Channel<string> LinesOf(Process p)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<string>();
        _ = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync() is { } line) await channel.Writer.WriteAsync(line);
            channel.Writer.Complete();
        });
        return channel;
    }

    private static (int Code, string Out, string Err) Finish(Process p, int seconds)
    {
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"a child process ran past {seconds} s");
        }
        return (p.ExitCode, output.Result, errors.Result);
    }

    [Fact]
    public void Processes_identify_and_list_while_another_enrolls()
    {
        Assert.Equal(0, CliRunner.Run("enroll", "-g", Db, "--name", "Person A", Face("img1.jpg")).ExitCode);
        var files = Crops(150, "c");
        using var writer = Start(["enroll", "-g", Db, "--name", "Crops", "--aligned", "--force", .. files]);
        // readers run over and over while the writer works; what they saw proves that they overlapped it
        var seen = new List<int>();
        int identified = 0;
        while (!writer.HasExited)
        {
            using var lister = Start("subjects", "-g", Db, "--json");
            using var reader = Start("identify", "-g", Db, "--json", Face("img2.jpg"), Face("img4.jpg"));
            var (lc, lo, le) = Finish(lister, 120);
            var (rc, ro, re) = Finish(reader, 120);
            Assert.True(lc == 0, $"subjects exit {lc}: {le}");
            Assert.True(rc == 0, $"identify exit {rc}: {re}");
            Assert.DoesNotContain("error", le + re);
            var crops = JsonDocument.Parse(lo).RootElement.GetProperty("subjects").EnumerateArray().FirstOrDefault(s => s.GetProperty("name").GetString() == "Crops");
            seen.Add(crops.ValueKind == JsonValueKind.Undefined ? 0 : crops.GetProperty("faces").GetInt32());
            Assert.All(ro.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Equal("Person A", JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()));
            identified++;
        }
        var (wc, _, we) = Finish(writer, 10);
        Assert.True(wc == 0, $"enroll exit {wc}: {we}");
        Assert.True(seen.Any(n => n is > 0 and < 150), $"no reader saw the gallery half-enrolled (counts seen: {string.Join(",", seen)}): they did not overlap the writer");
        Assert.Equal(seen.Order(), seen); // and never a count going back
        using var store = GalleryStore.Open(Db, null, readOnly: true);
        Assert.Equal(151, store.Faces().Count);
    }
}
