using FaceNet.Onnx;
using System.Text.Json;
using System.Text.Json.Nodes;
using FaceNet.Embedding;
using FaceNet.Imaging;

namespace FaceNet.Import.Onnx;

/// <summary>
/// <c>facenet quantize</c>: a face model (one network or a fused model) made int8, its activation ranges
/// calibrated on faces that our own pipeline detects and aligns in the given photos, so the ranges are
/// those of the crops the model will see. The result is a model like any other (<c>-m FILE</c>); its
/// metadata says it is quantized and from what. Its embeddings differ slightly from the float model's,
/// so it has its own identity: galleries enrolled with the float model are migrated, not mixed.
/// </summary>
public static class ModelQuantizer
{
    /// <param name="recognizer">the float model (a fused model's members are quantized one by one) with the detector that finds the calibration faces</param>
    /// <param name="photos">photos with faces; every face found is used, up to <paramref name="maxFaces"/></param>
    /// <param name="output">an <c>.onnx</c> file for one network, a <c>.json</c> for a fused model (its members are written beside it)</param>
    public static QuantizedModel Quantize(FaceRecognizer recognizer, IReadOnlyList<string> photos, string output, int maxFaces = 256,
        double percentile = 0.9999, Action<string>? progress = null)
    {
        var model = recognizer.Model;
        bool fused = model.IsFused;
        if (fused && !output.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{output}: a fused model is written as a .json file (its networks beside it)");
        if (!fused && !output.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{output}: a network is written as an .onnx file");

        var folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(folder)) throw new IOException($"{output}: folder {folder} does not exist");
        var crops = CalibrationCrops(recognizer, photos, maxFaces, progress);
        int faces = crops[0].Count / (model.Members[0].Flip ? 2 : 1);
        var files = new List<string>();
        var summaries = new List<string>();
        string dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        string stem = Path.GetFileNameWithoutExtension(output);
        var memberFiles = new List<string>();
        for (int k = 0; k < model.Members.Count; k++)
        {
            var m = model.Members[k];
            var (int8, report) = QuantizeCore(m.Embedder, crops[k], percentile);
            var info = m.Embedder.Info with
            {
                Name = m.Embedder.Info.Name + "-int8",
                Source = $"int8 of {m.Embedder.Info.Name} ({Path.GetFileName(m.Embedder.ModelPath)})",
                Alignment = m.Alignment.Text,
                IdentityAliases = [],
            };
            string about = $"int8 QDQ: {report.QuantizedNodes} convolutions/products with per-channel int8 weights, uint8 activations calibrated on {faces} faces; embedding layer, additions and pools in float";
            var meta = info.ToMetadata().Append(new("facenet.quantized", about)).Append(new("facenet.quantized_from", m.Embedder.Identity));
            string file = fused ? Path.Combine(dir, $"{stem}.{m.Embedder.Info.Name}.onnx") : output;
            AtomicFile.Write(file, OnnxModelFile.WithMetadata(int8, meta, file, remove: [Models.ModelInfo.KeyIdentityAliases]));
            files.Add(file);
            memberFiles.Add(Path.GetFileName(file));
            summaries.Add($"{m.Embedder.Info.Name}: {Describe(report)}");
        }
        if (fused)
        {
            var node = JsonNode.Parse(FusedFile.WithThreshold(model.Path, model.Info.Threshold, model.Info.ThresholdFar,
                model.Info.ThresholdFrr, model.Info.Calibration))!.AsObject();
            node["name"] = model.Info.Name + "-int8";
            node["about"] = $"int8 of {model.Info.Name}: {node["about"]?.GetValue<string>()}";
            node["quantized_from"] = model.Identity;
            var members = node["members"]!.AsArray();
            for (int k = 0; k < members.Count; k++) members[k]!["model"] = memberFiles[k];
            AtomicFile.Write(output, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true,
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            files.Add(output);
        }
        return new QuantizedModel(output, files, faces, string.Join("; ", summaries));
    }

    /// <summary>
    /// Each member's crops of the faces in the photos (and its mirror image when the member flips), as
    /// the model will see them; at least 16 faces.
    /// </summary>
    public static List<RgbImage>[] CalibrationCrops(FaceRecognizer recognizer, IReadOnlyList<string> photos, int maxFaces = 256,
        Action<string>? progress = null)
    {
        var model = recognizer.Model;
        var crops = model.Members.Select(_ => new List<RgbImage>()).ToArray();
        int faces = 0, skipped = 0;
        foreach (var photo in photos)
        {
            if (faces >= maxFaces) break;
            try
            {
                var p = recognizer.Read(photo);
                var subject = recognizer.DetectMain(p);
                if (subject.Face is not { } first) { skipped++; continue; }
                // the subject first, then the others of a group photo, no smaller than the detector's usual finds
                foreach (var face in subject.All.Where((_, i) => i != subject.Index).Prepend(first))
                {
                    if (faces >= maxFaces) break;
                    var perMember = recognizer.Align(p, face).Crops;
                    for (int k = 0; k < perMember.Length; k++)
                    {
                        crops[k].Add(perMember[k]);
                        if (model.Members[k].Flip) crops[k].Add(perMember[k].FlipHorizontal());
                    }
                    faces++;
                }
            }
            catch (ImageException e)
            {
                skipped++;
                progress?.Invoke($"skipped {e.Message}");
            }
        }
        if (faces < 16)
            throw new ArgumentException($"only {faces} face(s) found in the calibration photos ({skipped} without a face or unreadable); give at least 16, ideally a few hundred");
        progress?.Invoke($"calibrating on {faces} faces ({skipped} photos skipped)");

        return crops;
    }

    /// <summary>
    /// One network quantized, calibrated on face crops as its alignment makes them (the model's metadata is the float
    /// model's); <paramref name="onnx"/>: the network's bytes when it was not loaded from a file.
    /// </summary>
    public static (byte[] Onnx, string Summary) QuantizeNetwork(FaceEmbedder embedder, IReadOnlyList<RgbImage> crops,
        byte[]? onnx = null, double percentile = 0.9999)
    {
        var (int8, report) = QuantizeCore(embedder, crops, percentile, onnx);
        return (int8, Describe(report));
    }

    private static (byte[] Onnx, Int8Quantizer.Report Report) QuantizeCore(FaceEmbedder embedder, IReadOnlyList<RgbImage> crops,
        double percentile, byte[]? onnx = null)
    {
        var inputs = crops.Chunk(Math.Min(16, embedder.BatchLimit)).Select(c => embedder.InputTensor(c)).ToList();
        return Int8Quantizer.Quantize(onnx ?? embedder.OnnxBytes(), inputs, new QuantizeSettings { Percentile = percentile });
    }

    private static string Describe(Int8Quantizer.Report r)
        => $"{r.QuantizedNodes} int8, float: {string.Join(", ", r.FloatOps.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"))}";
}
