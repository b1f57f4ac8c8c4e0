using System.Globalization;
using FaceNet;
using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Evaluation;
using FaceNet.Imaging;
using SkiaSharp;

// Development photo sets of other kinds than LFW's news photos, made from a labelled set so that every
// default can be measured on them (`facenet evaluate --pairs OUT/pairs.csv --root OUT/images`):
//   tight   PAIRS ROOT OUT [MIN,MAX]
//                            each photo cut to its face box grown by 0–10 % per side (seeded; MIN,MAX
//                            other fractions, negative cuts into the box), JPEG: what ID photos and
//                            crops from cameras or other tools look like
//   aligned PAIRS ROOT OUT   each face warped onto the ArcFace 5-point template at 112×112, PNG: how
//                            aligned face sets are published
//   pairs   ROOT OUT.csv     all same-person pairs of a folder of people (ROOT/person/*) and as many
//                            different-person pairs drawn with a fixed seed
// The boxes and landmarks come from YuNet and O-Net on the original photo, where the face has background
// around it (the case the default detector is known to be right on).
if (args.Length < 3) return Usage();
switch (args[0])
{
    case "tight" when args.Length is 4 or 5: Cut(args[1], args[2], args[3], aligned: false, args.Length == 5 ? Range(args[4]) : (0, 0.1f)); break;
    case "aligned" when args.Length == 4: Cut(args[1], args[2], args[3], aligned: true, default); break;
    case "pairs" when args.Length == 3: Pairs(args[1], args[2]); break;
    default: return Usage();
}
return 0;

static int Usage()
{
    Console.Error.WriteLine("usage: FaceNet.DevSets tight|aligned PAIRS ROOT OUT  |  pairs ROOT OUT.csv");
    return 1;
}

static (float, float) Range(string text)
{
    var t = text.Split(',');
    return (float.Parse(t[0], CultureInfo.InvariantCulture), float.Parse(t[1], CultureInfo.InvariantCulture));
}

static void Cut(string pairsPath, string root, string output, bool aligned, (float Min, float Max) grow)
{
    var pairs = PairsFile.Read(pairsPath, root);
    var files = pairs.SelectMany(p => new[] { p.FileA, p.FileB }).Distinct().OrderBy(f => f, StringComparer.Ordinal).ToList();
    using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Detector = FaceNet.Detection.DetectorKind.YuNetOnet, Model = "mobilefacenet" });
    var rng = new Random(20261201);
    var spec = AlignmentSpec.Parse("template:arcface112");
    var written = new Dictionary<string, string>();
    foreach (var file in files)
    {
        var image = faces.Load(file);
        var found = faces.Detect(image);
        if (found.Count == 0) { Console.Error.WriteLine($"skipped (no face): {file}"); continue; }
        var face = found[MainFace.Index(found, image.Width, image.Height)];
        RgbImage result;
        if (aligned) result = FaceAligner.Align(image, face, spec, 112);
        else
        {
            var b = face.Box;
            float Grow() => grow.Min + (grow.Max - grow.Min) * (float)rng.NextDouble();
            float l = b.Width * Grow(), r = b.Width * Grow(), t = b.Height * Grow(), d = b.Height * Grow();
            int x0 = (int)MathF.Floor(b.X - l), y0 = (int)MathF.Floor(b.Y - t);
            int x1 = (int)MathF.Ceiling(b.Right + r), y1 = (int)MathF.Ceiling(b.Bottom + d);
            result = image.Crop(x0, y0, x1 - x0, y1 - y0);
        }
        var relative = Path.ChangeExtension(Path.GetRelativePath(root, file), aligned ? ".png" : ".jpg");
        var target = Path.Combine(output, "images", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        Save(result, target, aligned ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg);
        written[file] = relative;
    }
    using var csv = new StreamWriter(Path.Combine(output, "pairs.csv"));
    csv.WriteLine("file_x,file_y,same");
    foreach (var p in pairs.Where(p => written.ContainsKey(p.FileA) && written.ContainsKey(p.FileB)))
        csv.WriteLine($"{written[p.FileA]},{written[p.FileB]},{(p.Same ? 1 : 0)}");
    Console.WriteLine($"{written.Count} of {files.Count} images, pairs in {Path.Combine(output, "pairs.csv")}");
}

static void Pairs(string root, string output)
{
    var people = Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
        .Select(d => Directory.GetFiles(d).Where(ImageDecoder.IsImageFile).OrderBy(f => f, StringComparer.Ordinal).Select(f => Path.GetRelativePath(root, f)).ToArray())
        .Where(f => f.Length > 0).ToArray();
    var same = new List<(string, string)>();
    foreach (var p in people)
        for (int i = 0; i < p.Length; i++)
            for (int j = i + 1; j < p.Length; j++) same.Add((p[i], p[j]));
    var rng = new Random(20261201);
    var different = new HashSet<(string, string)>();
    long possible = 0;
    for (int a = 0; a < people.Length; a++) for (int b = a + 1; b < people.Length; b++) possible += (long)people[a].Length * people[b].Length;
    while (different.Count < Math.Min(same.Count, possible))
    {
        int a = rng.Next(people.Length), b = rng.Next(people.Length);
        if (a == b) continue;
        var x = people[a][rng.Next(people[a].Length)];
        var y = people[b][rng.Next(people[b].Length)];
        different.Add(string.CompareOrdinal(x, y) < 0 ? (x, y) : (y, x));
    }
    using var csv = new StreamWriter(output);
    csv.WriteLine("file_x,file_y,same");
    foreach (var (x, y) in same) csv.WriteLine($"{x},{y},1");
    foreach (var (x, y) in different) csv.WriteLine($"{x},{y},0");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{people.Length} people, {same.Count} same and {different.Count} different pairs: {output}"));
}

static void Save(RgbImage image, string path, SKEncodedImageFormat format)
{
    var rgba = new byte[image.Width * image.Height * 4];
    for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4)
    {
        rgba[j] = image.Pixels[i]; rgba[j + 1] = image.Pixels[i + 1]; rgba[j + 2] = image.Pixels[i + 2]; rgba[j + 3] = 255;
    }
    using var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
    System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
    using var data = bmp.Encode(format, 92);
    File.WriteAllBytes(path, data.ToArray());
}
