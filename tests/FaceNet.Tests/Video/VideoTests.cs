using System.Text.Json;
using FaceNet.Tests.Cli;
using static FaceNet.Tests.Video.VideoClips;

namespace FaceNet.Tests.Video;

/// <summary>facenet video on clips made from committed photos: tracks, their times (± 0.5 s), names and clusters.</summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class VideoTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-video-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    // A (img1) walks in for 3 s; nobody; B (img3) for 3 s; A (another photo, img2) comes back, B leaves for 1.5 s and
    // comes back (img12) beside A; nobody.
    private string Scene()
    {
        var path = Path.Combine(_dir, "scene.mp4");
        Make(path, 1280, 720, 25, 12,
            new Actor("img1.jpg", 0, 3, 100, 150, 400, DxPerSecond: 40),
            new Actor("img3.jpg", 5, 8, 640, 150, 400),
            new Actor("img2.jpg", 8, 11, 80, 120, 440),
            new Actor("img12.jpg", 9.5, 11, 700, 160, 400));
        return path;
    }

    private static List<JsonElement> Tracks(CliRunner.Result r)
        => r.OutLines.Select(l => JsonDocument.Parse(l).RootElement).OrderBy(t => t.GetProperty("start").GetDouble()).ThenBy(t => t.GetProperty("box")[0].GetInt32()).ToList();

    private static void Near(double expected, JsonElement track, string key)
        => Assert.True(Math.Abs(track.GetProperty(key).GetDouble() - expected) <= 0.5, $"{key} {track.GetProperty(key).GetDouble():F2}, expected {expected} ± 0.5 ({track})");

    [Fact]
    public void Without_a_gallery_each_passage_is_a_track_and_the_same_person_coming_back_joins_the_same_cluster()
    {
        var r = CliRunner.Run("video", Scene(), "--json", "--faces-dir", Path.Combine(_dir, "faces"));
        Assert.True(r.ExitCode == 0, r.Err);
        var tracks = Tracks(r);
        Assert.Equal(4, tracks.Count);
        var (a1, b1, a2, b2) = (tracks[0], tracks[1], tracks[2], tracks[3]);
        Near(0, a1, "start"); Near(3, a1, "end");
        Near(5, b1, "start"); Near(8, b1, "end");
        Near(8, a2, "start"); Near(11, a2, "end");
        Near(9.5, b2, "start"); Near(11, b2, "end");
        int Cluster(JsonElement t) => t.GetProperty("cluster").GetInt32();
        Assert.Equal(Cluster(a1), Cluster(a2));
        Assert.Equal(Cluster(b1), Cluster(b2));
        Assert.NotEqual(Cluster(a1), Cluster(b1));
        Assert.All(tracks, t => Assert.True(File.Exists(t.GetProperty("face").GetString())));
        Assert.Contains("real time", r.Err);
    }

    [Fact]
    public void People_taking_turns_at_the_same_spot_are_separate_tracks_not_one()
    {
        // a cut between three people framed alike: the boxes overlap, the faces do not match
        var path = Path.Combine(_dir, "turns.mp4");
        Make(path, 1280, 720, 25, 9,
            new Actor("img3.jpg", 0, 3, 400, 150, 400),
            new Actor("img8.jpg", 3, 6, 400, 150, 400),
            new Actor("img16.jpg", 6, 9, 400, 150, 400));
        var r = CliRunner.Run("video", path, "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        var tracks = Tracks(r);
        Assert.Equal(3, tracks.Count);
        for (int k = 0; k < 3; k++)
        {
            Near(3 * k, tracks[k], "start");
            Near(3 * k + 3, tracks[k], "end");
        }
        Assert.Equal(3, tracks.Select(t => t.GetProperty("cluster").GetInt32()).Distinct().Count());
    }

    [Fact]
    public void With_a_gallery_a_track_is_named_once_and_a_stranger_is_unknown()
    {
        var gallery = Path.Combine(_dir, "g.db");
        var enrol = CliRunner.Run("enroll", "-g", gallery, "--name", "Ada", TestImages.DataPath("faces", "img4.jpg"));
        Assert.True(enrol.ExitCode == 0, enrol.Err);
        var scene = Scene();
        var annotated = Path.Combine(_dir, "annotated.mp4");
        foreach (var identity in new[] { "mean", "vote" })
        {
            var r = CliRunner.Run(["video", scene, "-g", gallery, "--json", "--identity", identity, .. identity == "mean" ? new[] { "-o", annotated } : []]);
            Assert.True(r.ExitCode == 0, r.Err);
            var tracks = Tracks(r);
            Assert.Equal(4, tracks.Count);
            Assert.Equal(["Ada", null, "Ada", null], tracks.Select(t => t.GetProperty("name").GetString()));
            Assert.All(tracks, t => Assert.Equal(t.GetProperty("name").ValueKind == JsonValueKind.String, t.GetProperty("known").GetBoolean()));
        }
        // the annotated copy: as long as the clip, Ada's box drawn in green around her face at 1.5 s, none at 4 s (nobody there)
        var still = Path.Combine(_dir, "still.png");
        Frame(annotated, 1.5, still);
        var image = FaceNet.Imaging.ImageDecoder.Load(still);
        Assert.True(Green(image) > 200, $"{Green(image)} green pixels at 1.5 s");
        Frame(annotated, 4.0, still);
        Assert.Equal(0, Green(FaceNet.Imaging.ImageDecoder.Load(still)));
    }

    private static void Frame(string video, double at, string png)
    {
        using var p = System.Diagnostics.Process.Start("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-ss", at.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", video, "-frames:v", "1", png])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static int Green(FaceNet.Imaging.RgbImage image)
    {
        int n = 0;
        for (int i = 0; i < image.Pixels.Length; i += 3)
            if (image.Pixels[i + 1] > 180 && image.Pixels[i] < 90 && image.Pixels[i + 2] < 90) n++;
        return n;
    }

    [Fact]
    public void A_file_that_is_not_a_video_is_refused_in_one_line()
    {
        var fake = Path.Combine(_dir, "notes.mp4");
        File.WriteAllText(fake, "not a video at all\n");
        var r = CliRunner.Run("video", fake);
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {fake}: ", r.ErrLines[0]);
        var missing = CliRunner.Run("video", Path.Combine(_dir, "nope.mp4"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("file not found", missing.Err);
    }

    [Fact]
    public void A_truncated_video_gives_the_tracks_found_before_the_break_then_an_error()
    {
        var path = Scene();
        // the index first (faststart), so the cut falls in the frames, as in a copy that was interrupted
        var indexed = Path.Combine(_dir, "indexed.mp4");
        using (var remux = System.Diagnostics.Process.Start("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", path, "-c", "copy", "-movflags", "+faststart", indexed])!)
            remux.WaitForExit();
        var bytes = File.ReadAllBytes(indexed);
        var cut = Path.Combine(_dir, "cut.mp4");
        File.WriteAllBytes(cut, bytes[..(int)(bytes.Length * 0.6)]);
        var r = CliRunner.Run("video", cut, "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.Contains("breaks off", r.Err);
        var tracks = Tracks(r);
        Assert.True(tracks.Count >= 2, r.Out); // A, and B until the break
        Near(0, tracks[0], "start");
        Near(5, tracks[1], "start");
    }

    [Fact]
    public async Task A_stream_that_stops_sending_ends_with_an_error_after_the_timeout_and_its_tracks()
    {
        // an HTTP "live" stream: the first 60 % of an MPEG-TS of the scene, then the connection stays open and silent
        var ts = Path.Combine(_dir, "live.ts");
        using (var remux = System.Diagnostics.Process.Start("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", Scene(), "-c", "copy", ts])!)
            remux.WaitForExit();
        var bytes = File.ReadAllBytes(ts);
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                System.Net.Sockets.TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                _ = Task.Run(async () =>
                {
                    using var c = client;
                    var stream = c.GetStream();
                    var buffer = new byte[4096];
                    try
                    {
                        _ = await stream.ReadAsync(buffer, stop.Token); // the request (its first bytes are enough)
                        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n"), stop.Token);
                        await stream.WriteAsync(bytes.AsMemory(0, (int)(bytes.Length * 0.6)), stop.Token);
                        await Task.Delay(Timeout.Infinite, stop.Token); // silent, never closed
                    }
                    catch (Exception e) when (e is OperationCanceledException or IOException) { }
                });
            }
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = CliRunner.Run("video", $"http://127.0.0.1:{port}/live.ts", "--json", "--timeout", "3");
        clock.Stop();
        stop.Cancel();
        listener.Stop();
        await server;
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.True(Tracks(r).Count >= 2, r.Out + r.Err); // A and B, seen before the stream went silent
    }

    [Fact]
    public void With_liveness_each_track_gets_a_verdict_from_its_faces()
    {
        // the labelled samples filling the frame: a live person for 2 s, nobody for 2 s, then a photo held up to the camera
        var path = Path.Combine(_dir, "door.mp4");
        Make(path, 640, 480, 10, 6,
            new Actor("../liveness/image_T1.jpg", 0, 2, 0, 0, 480),
            new Actor("../liveness/image_F1.jpg", 4, 6, 0, 0, 480));
        var r = CliRunner.Run("video", path, "--json", "--liveness");
        Assert.True(r.ExitCode == 0, r.Err);
        var tracks = Tracks(r);
        Assert.Equal(2, tracks.Count);
        Assert.True(tracks[0].GetProperty("live").GetBoolean(), tracks[0].ToString());
        Assert.False(tracks[1].GetProperty("live").GetBoolean(), tracks[1].ToString());
        Assert.True(tracks[1].GetProperty("liveness_score").GetDouble() < tracks[1].GetProperty("liveness_threshold").GetDouble());
        // without the option no verdict is given
        Assert.DoesNotContain("\"live\"", CliRunner.Run("video", path, "--json").Out);
    }
}
