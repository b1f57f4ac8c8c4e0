using System.Text.Json;
using FaceNet.Gallery;
using Microsoft.Data.Sqlite;

namespace FaceNet.Tests.Cli;

/// <summary>
/// The command line's contract under the mistakes people make (exit 1 usage, 2 input, 3 model;
/// one line naming the thing; many-image commands go on past a bad one), one case each.
/// </summary>
public sealed class ContractTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-contract-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string Face(string n) => TestImages.DataPath("faces", n);
    private static string Sample(string n) => Path.Combine(AppContext.BaseDirectory, "samples", n);

    private static void AssertOneLine(CliRunner.Result r, int code, string contains)
    {
        Assert.True(code == r.ExitCode, $"exit {r.ExitCode}, expected {code}: {r.Err}");
        var errors = r.ErrLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Single(errors);
        Assert.Contains(contains, errors[0]);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.True(errors[0].Length < 500, $"a {errors[0].Length}-character error line");
    }

    [Fact]
    public void A_service_address_in_use_is_a_usage_error_naming_urls()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var r = CliRunner.Run("serve", "--urls", $"http://127.0.0.1:{port}");
        AssertOneLine(r, 1, $"--urls http://127.0.0.1:{port}: ");
    }

    [Fact]
    public void Faults_carry_their_kind_whatever_the_wording()
    {
        var model = new FaceNet.Gallery.GalleryModel("m", 4, "fixed", FaceNet.Matching.Metric.Euclidean);
        var missing = Assert.Throws<FaceNet.Gallery.GalleryException>(() => FaceNet.Gallery.GalleryStore.Open(Path.Combine(_dir, "none.db"), model, readOnly: true));
        Assert.Equal(FaceNetErrorKind.NotFound, missing.Kind);
        var text = Path.Combine(_dir, "text.db");
        File.WriteAllText(text, new string('x', 4096));
        Assert.Equal(FaceNetErrorKind.CorruptStore, Assert.Throws<FaceNet.Gallery.GalleryException>(() => FaceNet.Gallery.GalleryStore.Open(text, model)).Kind);
        var other = new FaceNet.Gallery.GalleryModel("n", 4, "fixed", FaceNet.Matching.Metric.Euclidean);
        var db = Path.Combine(_dir, "g.db");
        using (var g = FaceNet.Gallery.GalleryStore.Open(db, model))
        {
            g.Enroll("Ann", [new FaceNet.Gallery.NewFace([1, 0, 0, 0])]);
            g.Enroll("Bob", [new FaceNet.Gallery.NewFace([0, 1, 0, 0])]);
            Assert.Equal(FaceNetErrorKind.Conflict, Assert.Throws<FaceNet.Gallery.GalleryException>(() => g.Rename("Bob", "Ann")).Kind);
        }
        Assert.Equal(FaceNetErrorKind.ModelMismatch, Assert.Throws<FaceNet.Gallery.GalleryException>(() => FaceNet.Gallery.GalleryStore.Open(db, other)).Kind);
        var notImage = Assert.Throws<FaceNet.Imaging.ImageException>(() => FaceNet.Imaging.ImageDecoder.Load(text));
        Assert.Equal(FaceNetErrorKind.NotAnImage, notImage.Kind);
    }

    [Fact]
    public void A_mistyped_option_is_a_usage_error_not_a_file()
    {
        var r = CliRunner.Run("compare", "--treshold", "0.5", Sample("person_a_1.jpg"), Sample("person_b.jpg"));
        AssertOneLine(r, 1, "unknown option '--treshold'");
        Assert.Empty(r.Out); // found before anything was read: no help text either
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("-1")]
    [InlineData("0")]
    [InlineData("Infinity")]
    [InlineData("1,5")]
    [InlineData("abc")]
    public void A_threshold_that_is_not_a_usable_number_is_refused(string value)
    {
        var r = CliRunner.Run("compare", "--threshold", value, Sample("person_a_1.jpg"), Sample("person_b.jpg"));
        AssertOneLine(r, 1, "--threshold");
    }

    [Theory]
    [InlineData("evaluate", "--far", "2")]
    [InlineData("evaluate", "--folds", "0")]
    [InlineData("bench gallery", "--faces", "0")]
    [InlineData("bench network", "--batch", "0")]
    [InlineData("identify", "--top", "0")]
    public void Out_of_range_numbers_are_usage_errors_before_any_file_is_read(string command, string option, string value)
    {
        string[] rest = command switch
        {
            "evaluate" => ["--pairs", Path.Combine(_dir, "none.txt"), "--root", _dir],
            "identify" => ["-g", Path.Combine(_dir, "none.db"), Face("img1.jpg")],
            _ => [],
        };
        var r = CliRunner.Run([.. command.Split(' '), option, value, .. rest]);
        AssertOneLine(r, 1, option);
    }

    [Fact]
    public void An_onnx_file_that_is_no_face_embedder_is_refused_for_compare_and_import()
    {
        var yunet = FaceNet.Models.BundledModels.Folders().Select(f => Path.Combine(f, "yunet", "yunet.onnx")).First(File.Exists);
        AssertOneLine(CliRunner.Run("compare", "-m", yunet, Sample("person_a_1.jpg"), Sample("person_b.jpg")), 3, "not a face embedder");
        var out1 = Path.Combine(_dir, "y.onnx");
        AssertOneLine(CliRunner.Run("import", yunet, "-o", out1), 3, "not a face embedder");
        Assert.False(File.Exists(out1));
    }

    [Fact]
    public void Detect_json_of_a_photo_without_a_face_exits_2_and_says_so_in_the_stream()
    {
        var blank = Path.Combine(_dir, "wall.png");
        File.WriteAllBytes(blank, PngOf(200, 200));
        var r = CliRunner.Run("detect", "--json", blank, Face("img1.jpg"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(2, r.OutLines.Length);
        Assert.Equal(0, JsonDocument.Parse(r.OutLines[0]).RootElement.GetProperty("faces").GetArrayLength());
        Assert.Contains($"error: {blank}: no face found", r.Err);
    }

    private static byte[] PngOf(int w, int h)
    {
        using var bmp = new SkiaSharp.SKBitmap(w, h);
        bmp.Erase(new SkiaSharp.SKColor(120, 130, 140));
        using var data = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public void Compare_with_a_bad_image_still_compares_the_good_ones()
    {
        var bad = Path.Combine(_dir, "bad.jpg");
        File.WriteAllText(bad, string.Concat(Enumerable.Repeat("not an image at all\n", 10)));
        var text = CliRunner.Run("compare", Sample("person_a_1.jpg"), bad, Sample("person_a_2.jpg"));
        Assert.Equal(2, text.ExitCode);
        Assert.Contains("same person", text.Out);
        Assert.Contains($"error: {bad}:", text.Err);
        var json = CliRunner.Run("compare", "--json", Sample("person_a_1.jpg"), bad, Sample("person_a_2.jpg"), Sample("person_b.jpg"));
        Assert.Equal(2, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("pairs").GetArrayLength());
        Assert.Equal(bad, doc.RootElement.GetProperty("errors")[0].GetProperty("file").GetString());
        Assert.Equal("fused", doc.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void A_photo_with_several_faces_is_said_to_be_one_and_best_match_finds_the_person_in_it()
    {
        // couple.jpg holds two people; img1.jpg is a portrait of neither... the note is what matters here
        var r = CliRunner.Run("compare", "--json", Face("couple.jpg"), Face("img1.jpg"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"note: {Face("couple.jpg")} has 2 faces", r.Err);
        using var main = JsonDocument.Parse(r.Out);
        var best = CliRunner.Run("compare", "--json", "--best-match", Face("couple.jpg"), Face("img1.jpg"));
        Assert.Equal(0, best.ExitCode);
        using var closest = JsonDocument.Parse(best.Out);
        Assert.True(closest.RootElement.GetProperty("distance").GetDouble() <= main.RootElement.GetProperty("distance").GetDouble());
        Assert.DoesNotContain("note:", best.Err);
        var enrol = CliRunner.Run("enroll", "-g", Path.Combine(_dir, "g.db"), "--name", "Couple", Face("couple.jpg"));
        Assert.Contains("enrolling its subject (--all-faces enrols each)", enrol.Err);
    }

    [Fact]
    public void Enroll_refuses_someone_elses_sqlite_file_and_changes_nothing()
    {
        var other = Path.Combine(_dir, "shop.db");
        using (var db = new SqliteConnection($"Data Source={other};Pooling=false"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT); INSERT INTO orders(item) VALUES ('tea');";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(other);
        AssertOneLine(CliRunner.Run("enroll", "-g", other, "--name", "A", Face("img1.jpg")), 2, "not a FaceNet gallery");
        Assert.Equal(before, File.ReadAllBytes(other));
    }

    [Fact]
    public void A_failed_first_enrolment_leaves_no_gallery_behind()
    {
        var g = Path.Combine(_dir, "new.db");
        var r = CliRunner.Run("enroll", "-g", g, "--name", "A", Path.Combine(_dir, "missing.jpg"));
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(g));
        Assert.Empty(Directory.GetFiles(_dir, "new.db*"));
    }

    [Fact]
    public void A_recalibrated_copy_of_the_model_still_reads_the_galleries_of_the_original()
    {
        var g = Path.Combine(_dir, "people.db");
        Assert.Equal(0, CliRunner.Run("enroll", "-g", g, "-m", "mobilefacenet", "--name", "A", Face("img1.jpg")).ExitCode);
        var root = Path.Combine(_dir, "people");
        foreach (var (who, files) in new[] { ("A", new[] { "img1.jpg", "img2.jpg" }), ("B", new[] { "img3.jpg", "img12.jpg" }), ("C", new[] { "img8.jpg", "img9.jpg" }) })
        {
            Directory.CreateDirectory(Path.Combine(root, who));
            foreach (var f in files) File.Copy(Face(f), Path.Combine(root, who, f));
        }
        var calibrated = Path.Combine(_dir, "calibrated.onnx");
        Assert.Equal(0, CliRunner.Run("calibrate", "--root", root, "-m", "mobilefacenet", "--far", "0.1", "--no-cache", "-o", calibrated).ExitCode);
        var r = CliRunner.Run("identify", "-g", g, "-m", calibrated, "--json", Face("img4.jpg"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal("A", JsonDocument.Parse(r.Out).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public void Output_paths_that_cannot_be_written_are_one_line_errors_and_evaluate_keeps_its_figures()
    {
        var noDir = Path.Combine(_dir, "no", "such", "dir");
        AssertOneLine(CliRunner.Run("import", FaceNet.Models.BundledModels.Find("mobilefacenet")!, "-o", Path.Combine(noDir, "x.onnx")), 1, "does not exist");
        AssertOneLine(CliRunner.Run("bench", "images", Path.Combine(_dir, "missing")), 2, "file not found");

        var file = Path.Combine(_dir, "afile");
        File.WriteAllText(file, "x");
        var photos = Path.Combine(_dir, "photos");
        Directory.CreateDirectory(photos);
        File.Copy(Face("img1.jpg"), Path.Combine(photos, "a.jpg"));
        File.Copy(Face("img2.jpg"), Path.Combine(photos, "b.jpg"));
        AssertOneLine(CliRunner.Run("cluster", photos, "--copy-to", file), 1, "is a file");

        var pairs = Path.Combine(_dir, "pairs.csv");
        File.WriteAllLines(pairs, ["file_x,file_y,same", "a.jpg,b.jpg,1", "a.jpg,b.jpg,0"]);
        var r = CliRunner.Run("evaluate", "--pairs", pairs, "--root", photos, "--folds", "2", "--no-cache", "--plot", Path.Combine(noDir, "roc.png"));
        AssertOneLine(r, 1, "does not exist");
        Assert.Contains("accuracy", r.Out); // the figures were printed before the plot failed
    }

    [Fact]
    public void Folders_are_taken_wherever_images_are()
    {
        var people = Path.Combine(_dir, "people");
        foreach (var (who, files) in new[] { ("Ann", new[] { "img1.jpg", "img2.jpg" }), ("Bob", new[] { "img3.jpg" }) })
        {
            Directory.CreateDirectory(Path.Combine(people, who));
            foreach (var f in files) File.Copy(Face(f), Path.Combine(people, who, f));
        }
        var g = Path.Combine(_dir, "g.db");
        var e = CliRunner.Run("enroll", "-g", g, "--from-folders", people, "--json");
        Assert.Equal(0, e.ExitCode);
        Assert.Equal(3, e.OutLines.Length);
        var queries = Path.Combine(_dir, "queries");
        Directory.CreateDirectory(queries);
        File.Copy(Face("img4.jpg"), Path.Combine(queries, "q1.jpg"));
        File.Copy(Face("img12.jpg"), Path.Combine(queries, "q2.jpg"));
        var answers = CliRunner.Run("identify", "-g", g, "--json", queries);
        Assert.Equal(["Ann", "Bob"], answers.OutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()));
        var embed = CliRunner.Run("embed", "--json", queries);
        Assert.Equal(2, embed.OutLines.Length);
        AssertOneLine(CliRunner.Run("enroll", "-g", g, "--from-folders", people, "--name", "X"), 1, "--from-folders");
        AssertOneLine(CliRunner.Run("enroll", "-g", g, Face("img1.jpg")), 1, "--name");
    }

    [Fact]
    public void Weights_of_another_network_give_a_short_line_that_counts_and_names_a_few()
    {
        var r = CliRunner.Run("import", TestImages.DataPath("weights", "onet.safetensors"), "-o", Path.Combine(_dir, "o.onnx"));
        AssertOneLine(r, 3, "tensor(s) do not fit Inception-ResNet-V1");
        Assert.Contains("more", r.Err);
        Assert.Contains("weights of another network?", r.Err);
    }
}
