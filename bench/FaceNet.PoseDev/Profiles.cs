using System.Globalization;
using FaceNet;
using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;

/// <summary>
/// Profile embeddings (issue 27, step 3): every photo's subject embedded by each network of the default model, the crop
/// and its mirror image kept apart, under its own alignment and alternatives for turned faces, so fusion weights,
/// flips and alignments can be compared offline.
/// </summary>
static class Features
{
    public sealed record Variant(string Name, int Member, Func<DetectedFace, AlignmentSpec, int, double[]?> Transform, bool TurnedOnly);

    // alternative alignments for turned faces: the five-point fit onto the template turned by the face's yaw
    public static readonly Variant[] Variants =
    [
        new("M", 0, (f, s, n) => null, false),
        new("R", 1, (f, s, n) => null, false),
        new("M-yaw", 0, (f, s, n) => YawFit(f, s, n, 1.0, 0), true),
        new("R-yaw", 1, (f, s, n) => YawFit(f, s, n, 1.0, 0), true),
        new("M-yaw13", 0, (f, s, n) => YawFit(f, s, n, 1.3, 0), true),
        new("R-yaw13", 1, (f, s, n) => YawFit(f, s, n, 1.3, 0), true),
        new("M-yaw13s", 0, (f, s, n) => YawFit(f, s, n, 1.3, 0.5), true),
        new("R-yaw13s", 1, (f, s, n) => YawFit(f, s, n, 1.3, 0.5), true),
        new("M-2pt", 0, (f, s, n) => TwoPoint(f, s, n), true),
        new("R-2pt", 1, (f, s, n) => TwoPoint(f, s, n), true),
    ];

    public const double TurnedFrom = 25;

    /// <summary>A third network's embeddings (crop and mirror) of every photo's subject, for fusion experiments: "path|alignment".</summary>
    public static void DumpExtra(string root, string output, string model, string alignment)
    {
        var files = Directory.EnumerateFiles(root, "*.jpg", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToList();
        using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet", DetectorThreads = 1 });
        using var x = FaceModel.Load(model, new FaceModelOptions { Alignment = AlignmentSpec.Parse(alignment) });
        var member = x.Members[0];
        var result = new (string File, float[]? A, float[]? B)[files.Count];
        const int chunk = 64;
        for (int start = 0; start < files.Count; start += chunk)
        {
            int n = Math.Min(chunk, files.Count - start);
            var crops = new RgbImage?[n];
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 2 }, k =>
            {
                var photo = faces.Read(files[start + k]);
                var face = faces.DetectMain(photo).Face;
                if (face is null) return;
                var (image, scale) = photo.AtLeast(1);
                crops[k] = FaceAligner.Align(image, face.Scaled(scale), member.Alignment, member.Embedder.Info.InputSize);
            });
            var idx = Enumerable.Range(0, n).Where(k => crops[k] is not null).ToList();
            var vecs = member.Embedder.Embed(idx.Select(k => crops[k]!).Concat(idx.Select(k => crops[k]!.FlipHorizontal())).ToList());
            for (int k = 0; k < n; k++) result[start + k] = (Path.GetRelativePath(root, files[start + k]), null, null);
            for (int j = 0; j < idx.Count; j++) result[start + idx[j]] = (result[start + idx[j]].File, vecs[j], vecs[j + idx.Count]);
            Console.Error.WriteLine($"{start + n}/{files.Count}");
        }
        using var w = new BinaryWriter(File.Create(output));
        w.Write(result.Length);
        foreach (var (file, a, b) in result)
        {
            w.Write(file);
            foreach (var v in new[] { a, b }) { w.Write(v?.Length ?? 0); if (v is not null) foreach (var f in v) w.Write(f); }
        }
    }

    public static Dictionary<string, (float[]? A, float[]? B)> ReadExtra(string path)
    {
        using var rd = new BinaryReader(File.OpenRead(path));
        int n = rd.ReadInt32();
        var d = new Dictionary<string, (float[]?, float[]?)>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            var file = rd.ReadString();
            float[]? Read() { int k = rd.ReadInt32(); return k == 0 ? null : Enumerable.Range(0, k).Select(_ => rd.ReadSingle()).ToArray(); }
            var a = Read(); var b = Read();
            d[file] = (a, b);
        }
        return d;
    }

    /// <summary>The template's points as a head turned by the face's yaw (times <paramref name="boost"/>) shows them, the turn about an axis <paramref name="axis"/> face heights behind the eyes.</summary>
    public static FacePoint[] TurnedTemplate(FacePoint[] t, double yawDegrees, double axis)
    {
        double ex = (t[0].X + t[1].X) / 2, ey = (t[0].Y + t[1].Y) / 2, mx = (t[3].X + t[4].X) / 2, my = (t[3].Y + t[4].Y) / 2;
        double h = Math.Sqrt((mx - ex) * (mx - ex) + (my - ey) * (my - ey)), cx = (ex + mx) / 2;
        double th = yawDegrees * Math.PI / 180, c = Math.Cos(th), s = Math.Sin(th);
        return t.Select((p, i) =>
        {
            double z = (i == 2 ? HeadPose.NoseDepth * h : 0) + axis * h;
            return new FacePoint((float)(cx + (p.X - cx) * c + z * s), p.Y);
        }).ToArray();
    }

    static double[]? YawFit(DetectedFace f, AlignmentSpec spec, int size, double boost, double axis)
    {
        if (f.Landmarks is not { Length: 5 } lm || f.Pose is not { } pose) return null;
        var t = TurnedTemplate(spec.TemplatePoints(size), Math.Clamp(pose.Yaw * boost, -85, 85), axis);
        return FaceAligner.Similarity(lm, t);
    }

    static double[]? TwoPoint(DetectedFace f, AlignmentSpec spec, int size)
    {
        if (f.Landmarks is not { Length: 5 } lm) return null;
        var t = spec.TemplatePoints(size);
        FacePoint Mid(FacePoint a, FacePoint b) => new((a.X + b.X) / 2, (a.Y + b.Y) / 2);
        return FaceAligner.Similarity([Mid(lm[0], lm[1]), Mid(lm[3], lm[4])], [Mid(t[0], t[1]), Mid(t[3], t[4])]);
    }

    public sealed class Photo
    {
        public string File = "";
        public bool Found;
        public float[] Landmarks = new float[10];
        public double Yaw = double.NaN, Pitch, Roll;
        public float[]?[] Plain = new float[]?[Variants.Length], Flipped = new float[]?[Variants.Length];
    }

    /// <summary>Every photo under ROOT: detection with the default detector, then each variant's crop and its mirror embedded.</summary>
    public static void Dump(string root, string output)
    {
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase)
                || f.EndsWith(".pgm", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        using var faces = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet", DetectorThreads = 1 });
        using var m = FaceModel.Load("mobilefacenet");
        using var r = FaceModel.Load("faceapi-resnet", new FaceModelOptions { Alignment = AlignmentSpec.Parse("template:dlib") });
        var members = new[] { m.Members[0], r.Members[0] };
        var photos = new Photo[files.Count];
        const int chunk = 64;
        for (int start = 0; start < files.Count; start += chunk)
        {
            int n = Math.Min(chunk, files.Count - start);
            var crops = new List<(int Photo, int Variant, RgbImage Crop)>[n];
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 2 }, k =>
            {
                int i = start + k;
                var p = photos[i] = new Photo { File = Path.GetRelativePath(root, files[i]) };
                crops[k] = [];
                FaceNet.Imaging.Photo photo;
                try { photo = faces.Read(files[i]); } catch (FaceNetException) { return; }
                var face = faces.DetectMain(photo).Face;
                if (face is null) return;
                var (image, scale) = photo.AtLeast(1);
                face = face.Scaled(scale);
                p.Found = true;
                if (face.Landmarks is { Length: 5 } lm) for (int j = 0; j < 5; j++) { p.Landmarks[2 * j] = lm[j].X; p.Landmarks[2 * j + 1] = lm[j].Y; }
                if (face.Pose is { } q) { p.Yaw = q.Yaw; p.Pitch = q.Pitch; p.Roll = q.Roll; }
                for (int v = 0; v < Variants.Length; v++)
                {
                    var variant = Variants[v];
                    var member = members[variant.Member];
                    int size = member.Embedder.Info.InputSize;
                    RgbImage crop;
                    if (!variant.TurnedOnly) crop = FaceAligner.Align(image, face, member.Alignment, size);
                    else
                    {
                        if (!(Math.Abs(p.Yaw) >= TurnedFrom)) continue;
                        var t = variant.Transform(face, member.Alignment, size);
                        if (t is null) continue;
                        crop = FaceAligner.Warp(image, t, size);
                    }
                    crops[k].Add((i, v, crop));
                }
            });
            var all = crops.Where(c => c is not null).SelectMany(c => c).ToList();
            for (int mem = 0; mem < 2; mem++)
            {
                var mine = all.Where(c => Variants[c.Variant].Member == mem).ToList();
                if (mine.Count == 0) continue;
                var vecs = members[mem].Embedder.Embed(mine.Select(c => c.Crop).Concat(mine.Select(c => c.Crop.FlipHorizontal())).ToList());
                for (int j = 0; j < mine.Count; j++)
                {
                    photos[mine[j].Photo].Plain[mine[j].Variant] = vecs[j];
                    photos[mine[j].Photo].Flipped[mine[j].Variant] = vecs[j + mine.Count];
                }
            }
            Console.Error.WriteLine($"{start + n}/{files.Count}");
        }
        using var w = new BinaryWriter(File.Create(output));
        w.Write(Variants.Length);
        foreach (var v in Variants) w.Write(v.Name);
        w.Write(photos.Length);
        foreach (var p in photos)
        {
            w.Write(p.File); w.Write(p.Found);
            foreach (var x in p.Landmarks) w.Write(x);
            w.Write(p.Yaw); w.Write(p.Pitch); w.Write(p.Roll);
            for (int v = 0; v < Variants.Length; v++)
                foreach (var vec in new[] { p.Plain[v], p.Flipped[v] })
                {
                    w.Write(vec?.Length ?? 0);
                    if (vec is not null) foreach (var x in vec) w.Write(x);
                }
        }
    }

    public static Dictionary<string, Photo> Read(string path)
    {
        using var rd = new BinaryReader(File.OpenRead(path));
        int nv = rd.ReadInt32();
        var names = Enumerable.Range(0, nv).Select(_ => rd.ReadString()).ToArray();
        int n = rd.ReadInt32();
        var result = new Dictionary<string, Photo>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            var p = new Photo { File = rd.ReadString(), Found = rd.ReadBoolean() };
            for (int j = 0; j < 10; j++) p.Landmarks[j] = rd.ReadSingle();
            p.Yaw = rd.ReadDouble(); p.Pitch = rd.ReadDouble(); p.Roll = rd.ReadDouble();
            for (int v = 0; v < nv; v++)
            {
                int vi = Array.IndexOf(Variants.Select(x => x.Name).ToArray(), names[v]);
                for (int f = 0; f < 2; f++)
                {
                    int d = rd.ReadInt32();
                    float[]? vec = d == 0 ? null : Enumerable.Range(0, d).Select(_ => rd.ReadSingle()).ToArray();
                    if (vi < 0) continue;
                    if (f == 0) p.Plain[vi] = vec; else p.Flipped[vi] = vec;
                }
            }
            result[p.File] = p;
        }
        return result;
    }
}
