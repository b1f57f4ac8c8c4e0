using System.Globalization;
using System.Text.Json;
using FaceNet;
using FaceNet.Detection;
using FaceNet.Imaging;

// Development measurements for issue 27 (pose). Paths are arguments; nothing here names a data folder.
//   dump ROOT OUT.jsonl [DETECTOR]   every photo under ROOT (recursively) and its mirror image: the faces the
//                                    detector finds (box, score, landmarks, source, pose) and which is the subject
//   crop IMAGE OUT X Y W H [SIDE]    a region of a photo (shrunk so its longer side is at most SIDE) as PNG or JPEG (quality 90)
//   negatives ROOT OUT               photos without faces for false-detection counts: tiles (a third of the shorter side)
//                                    of every photo under ROOT that keep clear of every face the default detector finds
//                                    there (its box grown by half) and of the photo's edge, as JPEG
//   pose-check CFP_IMAGES DETECTOR   the pose estimate against CFP's frontal/profile labels and mirror images
if (args.Length < 3) { Console.Error.WriteLine("usage: FaceNet.PoseDev dump ROOT OUT.jsonl [DETECTOR]"); return 1; }
switch (args[0])
{
    case "dump": Dump(args[1], args[2], args.Length > 3 ? args[3] : null); break;
    case "crop" when args.Length >= 7: Crop(args[1], args[2], [.. args[3..7].Select(a => int.Parse(a, CultureInfo.InvariantCulture))], args.Length > 7 ? int.Parse(args[7], CultureInfo.InvariantCulture) : 0); break;
    case "negatives" when args.Length == 3: Negatives(args[1], args[2]); break;
    case "haar": Haar(args[1], args[2..]); break;
    case "refusals": Refusals(args[1], args[2]); break;
    case "probe": Probe(args[1..]); break;
    case "features": Features.Dump(args[1], args[2]); break;
    case "features-extra": Features.DumpExtra(args[1], args[2], args[3], args[4]); break;
    case "profiles": ProfileAnalysis.Run(args[1..]); break;
    case "pose-check": PoseCheck.Run(args[1], args[2] == "default" ? null : args[2]); break;
    default: Console.Error.WriteLine("unknown command"); return 1;
}
return 0;

static void Negatives(string root, string output)
{
    Directory.CreateDirectory(output);
    using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet" });
    foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal))
    {
        RgbImage image;
        try { image = faces.Load(file); } catch (FaceNetException) { continue; }
        var found = faces.Detect(image);
        int side = Math.Min(image.Width, image.Height) / 3;
        if (side < 48) continue;
        int n = 0;
        for (int y = 0; y + side <= image.Height; y += side / 2)
            for (int x = 0; x + side <= image.Width; x += side / 2)
            {
                var tile = new FaceBox(x, y, side, side);
                if (found.Any(f => Overlaps(tile, f.Box))) continue;
                var name = Path.Combine(output, $"{Path.GetFileNameWithoutExtension(file)}_{n++}.jpg");
                CropTo(image.Crop(x, y, side, side), name, 320);
            }
    }

    static bool Overlaps(FaceBox t, FaceBox f)
    {
        float gx = f.Width / 2, gy = f.Height / 2;
        return t.X < f.Right + gx && f.X - gx < t.Right && t.Y < f.Bottom + gy && f.Y - gy < t.Bottom;
    }
}

static void Haar(string cascade, string[] files)
{
    var det = new HaarDetector(cascade, new HaarOptions { MinNeighbors = 3 });
    foreach (var file in files)
    {
        var image = ImageDecoder.Load(file);
        var a = det.Detect(image);
        var b = det.Detect(image.FlipHorizontal());
        Console.WriteLine($"{Path.GetFileName(file)} {image.Width}x{image.Height}: " + string.Join("; ", a.Select(f => $"[{string.Join(",", f.Box.ToArray())}] n{f.Score}"))
            + " | mirror " + string.Join("; ", b.Select(f => $"[{string.Join(",", f.Box.ToArray())}] n{f.Score}")));
    }
}

static void Refusals(string root, string floorText)
{
    // what the enrolment gate says of each person's photos (ROOT/person/*): the reason of every face under the floor
    double floor = double.Parse(floorText, CultureInfo.InvariantCulture);
    using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet", DetectorThreads = 1 });
    var files = Directory.EnumerateFiles(root, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
    var reasons = new System.Collections.Concurrent.ConcurrentBag<string>();
    Parallel.ForEach(files, new ParallelOptions { MaxDegreeOfParallelism = 2 }, f =>
    {
        var subject = faces.DetectMain(faces.Read(f));
        if (subject.Face?.Quality is { } q && q.Score < floor) reasons.Add(q.Issue!.Split(' ')[0] + " " + q.Issue.Split(' ')[1]);
    });
    Console.WriteLine($"{files.Count} photos, {reasons.Count} under {floor}");
    foreach (var g in reasons.GroupBy(r => r).OrderByDescending(g => g.Count())) Console.WriteLine($"  {g.Count(),5}  {g.Key}");
}

static void Probe(string[] files)
{
    var yunetPath = FaceNet.Models.BundledModels.Find("yunet")!;
    foreach (var file in files)
    {
        var image = ImageDecoder.Load(file);
        Console.WriteLine($"{file} {image.Width}x{image.Height}");
        foreach (var side in new[] { 640, 320, 200, 120 })
            foreach (var flip in new[] { false, true })
            {
                using var y = new YuNetDetector(yunetPath, new YuNetOptions { ScoreThreshold = 0.2f, MaxSide = side, Threads = 1 });
                var found = y.Detect(flip ? image.FlipHorizontal() : image);
                Console.WriteLine($"  side {side} flip {flip}: " + string.Join("; ", found.Select(f => string.Create(CultureInfo.InvariantCulture,
                    $"[{string.Join(",", f.Box.ToArray())}] {f.Score:F2} yaw {f.Pose?.Yaw:F0}"))));
            }
    }
}

static void Crop(string file, string output, int[] r, int side) => CropTo(ImageDecoder.Load(file).Crop(r[0], r[1], r[2], r[3]), output, side);

static void CropTo(RgbImage image, string output, int side)
{
    if (side > 0 && Math.Max(image.Width, image.Height) > side)
    {
        double k = (double)side / Math.Max(image.Width, image.Height);
        image = image.Resize((int)Math.Round(image.Width * k), (int)Math.Round(image.Height * k), ResizeMode.Area);
    }
    using var bmp = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(image.Width, image.Height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque));
    var rgba = new byte[image.Width * image.Height * 4];
    for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4) { rgba[j] = image.Pixels[i]; rgba[j + 1] = image.Pixels[i + 1]; rgba[j + 2] = image.Pixels[i + 2]; rgba[j + 3] = 255; }
    System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
    bool png = output.EndsWith(".png", StringComparison.OrdinalIgnoreCase);
    using var data = bmp.Encode(png ? SkiaSharp.SKEncodedImageFormat.Png : SkiaSharp.SKEncodedImageFormat.Jpeg, png ? 100 : 90);
    File.WriteAllBytes(output, data.ToArray());
}

static void Dump(string root, string output, string? detector)
{
    var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
        .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase)
            || f.EndsWith(".pgm", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
        .OrderBy(f => f, StringComparer.Ordinal).ToList();
    using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Detector = detector is null ? null : FaceNet.Detection.Detectors.Parse(detector), DetectorThreads = 1, Model = "mobilefacenet" });
    var lines = new string[files.Count * 2];
    int done = 0;
    Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
    {
        RgbImage image;
        try { image = faces.Load(files[i]); }
        catch (FaceNetException) { return; }
        for (int flip = 0; flip < 2; flip++)
        {
            var img = flip == 1 ? image.FlipHorizontal() : image;
            var found = faces.Detect(img);
            int main = found.Count == 0 ? -1 : MainFace.Index(found, img.Width, img.Height);
            lines[2 * i + flip] = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["file"] = Path.GetRelativePath(root, files[i]), ["flip"] = flip == 1, ["w"] = img.Width, ["h"] = img.Height, ["main"] = main,
                ["faces"] = found.Select(f => new Dictionary<string, object?>
                {
                    ["box"] = new[] { f.Box.X, f.Box.Y, f.Box.Width, f.Box.Height }, ["score"] = f.Score, ["src"] = f.LandmarksSource,
                    ["lm"] = f.Landmarks?.Select(p => new[] { p.X, p.Y }).ToArray(), ["pose"] = f.Pose is { } q ? new[] { q.Yaw, q.Pitch, q.Roll } : null,
                }).ToArray(),
            });
        }
        int d = Interlocked.Increment(ref done);
        if (d % 200 == 0) Console.Error.WriteLine($"{d}/{files.Count}");
    });
    File.WriteAllLines(output, lines.Where(l => l is not null));
}

static class PoseCheck
{
    /// <summary>
    /// The pose estimate against CFP's labels: |yaw| of the subject of each frontal and profile photo (how many
    /// profiles past 45°, frontals under 20°) and of its mirror image (the sign should flip: |yaw + yaw'|).
    /// </summary>
    public static void Run(string root, string? detector)
    {
        var files = Directory.EnumerateFiles(root, "*.jpg", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToList();
        using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Detector = detector is null ? null : FaceNet.Detection.Detectors.Parse(detector), DetectorThreads = 1, Model = "mobilefacenet" });
        var yaw = new double?[files.Count, 2];
        var pitch = new double?[files.Count];
        var roll = new double?[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var image = faces.Load(files[i]);
            for (int flip = 0; flip < 2; flip++)
            {
                var img = flip == 1 ? image.FlipHorizontal() : image;
                var found = faces.Detect(img);
                if (found.Count == 0) continue;
                var pose = found[MainFace.Index(found, img.Width, img.Height)].Pose;
                yaw[i, flip] = pose?.Yaw;
                if (flip == 0) { pitch[i] = pose?.Pitch; roll[i] = pose?.Roll; }
            }
        });
        foreach (var kind in new[] { "frontal", "profile" })
        {
            var idx = Enumerable.Range(0, files.Count).Where(i => files[i].Contains($"{Path.DirectorySeparatorChar}{kind}{Path.DirectorySeparatorChar}")).ToList();
            var abs = idx.Where(i => yaw[i, 0] is not null).Select(i => Math.Abs(yaw[i, 0]!.Value)).ToList();
            var both = idx.Where(i => yaw[i, 0] is not null && yaw[i, 1] is not null).ToList();
            var mirror = both.Select(i => Math.Abs(yaw[i, 0]!.Value + yaw[i, 1]!.Value)).ToList();
            int flipped = both.Count(i => Math.Sign(yaw[i, 0]!.Value) == -Math.Sign(yaw[i, 1]!.Value) || Math.Abs(yaw[i, 0]!.Value) < 3);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{kind}: {idx.Count} photos, {abs.Count} with a pose; |yaw| p5/25/50/75/95 {P(abs)}; past 45° {abs.Count(a => a > 45)} ({(double)abs.Count(a => a > 45) / abs.Count:P1}), under 20° {abs.Count(a => a < 20)} ({(double)abs.Count(a => a < 20) / abs.Count:P1})"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  mirrored: |yaw + yaw'| p5/25/50/75/95 {P(mirror)}; sign flips (or both under 3°) {flipped}/{both.Count}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  pitch p5/50/95 {P(idx.Where(i => pitch[i] is not null).Select(i => pitch[i]!.Value).ToList(), [5, 50, 95])}, roll p5/50/95 {P(idx.Where(i => roll[i] is not null).Select(i => roll[i]!.Value).ToList(), [5, 50, 95])}"));
        }
    }

    private static string P(List<double> v, int[]? ps = null)
    {
        if (v.Count == 0) return "-";
        v.Sort();
        return string.Join(" / ", (ps ?? [5, 25, 50, 75, 95]).Select(p => v[(int)(p / 100.0 * (v.Count - 1))].ToString("F1", CultureInfo.InvariantCulture)));
    }
}
