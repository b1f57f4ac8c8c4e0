namespace FaceNet.Cli;

// Commands on models: import, quantize.
public sealed partial class FaceNetCli
{
    private Command ImportCommand()
    {
        var weights = new Argument<string>("weights") { Description = "Weight file: Keras .h5 (the seed's facenet_keras.h5), PyTorch .pt, .safetensors, "
            + "a TF.js weights manifest or graph model (.json), or an .onnx model" };
        var output = Options.Required("--output", "The ONNX model to write", "-o");
        var format = Options.Text("--format", "keras, torch, safetensors, tfjs (a weights manifest), tfjs-graph (a graph model.json) or onnx (default: "
            + "detected from the file)");
        format.AcceptOnlyFromAmong("keras", "torch", "safetensors", "tfjs", "tfjs-graph", "onnx");
        var outputNode = Options.Text("--output-node", "TF.js graph models: the node that gives the embedding (default: the widest vector output)");
        var inputSize = new Option<int?>("--input-size") { Description = "Side of the square face crop the model takes (default: from the model)" }.Within(8, 4096);
        var network = Options.Text("--network", "The network the weights are for, when not a face embedder: mtcnn-pnet, mtcnn-rnet or mtcnn-onet "
            + "(facenet-pytorch's weights of the bundled detector)");
        network.AcceptOnlyFromAmong("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet");
        var preprocess = PreprocessOption();
        var size = new Option<int?>("--embedding-size") { Description = "Embedding size (default: read from the weights; 128 for the seed, 512 for "
            + "facenet-pytorch)" }.Within(1, 65536);
        var threshold = ThresholdOption("Default same-person threshold written into the model");
        var alignment = Options.Text("--alignment", "How faces are cropped for this model: margin:N or template:arcface112");
        var metric = Options.Text("--metric", "euclidean (on unit vectors) or cosine");
        metric.AcceptOnlyFromAmong("euclidean", "cosine");
        var name = Options.Text("--name", "Model name written into the metadata");
        var cropScale = Options.Real("--crop-scale", "Liveness weights (MiniFASNet): how many times the face box is grown for the network's patch "
            + "(default: from the file name, 2.7_80x80_MiniFASNetV2.pth)", 0.5, 16);
        var json = JsonOption();
        var cmd = new Command("import", "Turn FaceNet weights (or an ONNX face model from elsewhere, or MiniFASNet liveness weights) into a "
            + "self-describing ONNX model")
            { weights, output, format, network, outputNode, inputSize, preprocess, size, threshold, alignment, metric, name, cropScale, json };
        cmd.SetAction(r => Guard(() =>
        {
            var (from, to) = (r.GetValue(weights)!, r.GetValue(output)!);
            if (r.GetValue(network) is { } net)
            {
                WeightImporter.ImportMtcnnToFile(from, net["mtcnn-".Length..], to);
                stdout.WriteLine($"wrote {to}: {net}");
                return Ok;
            }
            if (r.GetValue(cropScale) is not null || LivenessImporter.Recognizes(from))
                return ImportLiveness(from, to, new LivenessImportOptions
                {
                    CropScale = r.GetValue(cropScale), InputSize = r.GetValue(inputSize), Threshold = r.GetValue(threshold), Name = r.GetValue(name),
                }, r.GetValue(json));
            return ImportFaceModel(from, to, new ImportOptions
            {
                Format = FormatOf(r.GetValue(format)), OutputNode = r.GetValue(outputNode), InputSize = r.GetValue(inputSize),
                Preprocess = r.GetValue(preprocess), EmbeddingSize = r.GetValue(size), Threshold = r.GetValue(threshold), Alignment = r.GetValue(alignment),
                Metric = r.GetValue(metric) is { } mt ? Metrics.Parse(mt) : null, Name = r.GetValue(name),
            }, r.GetValue(json));
        }));
        return cmd;
    }

    private static WeightFormat? FormatOf(string? name) => name switch
    {
        "keras" => WeightFormat.Keras, "torch" => WeightFormat.Torch, "safetensors" => WeightFormat.Safetensors,
        "tfjs" => WeightFormat.Tfjs, "tfjs-graph" => WeightFormat.TfjsGraph, "onnx" => WeightFormat.Onnx, _ => null,
    };

    /// <summary>Face embedding weights → a self-describing ONNX face model.</summary>
    private int ImportFaceModel(string weights, string output, ImportOptions options, bool json)
    {
        var info = WeightImporter.ImportToFile(weights, output, options);
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["output"] = output, ["embedding_size"] = info.EmbeddingSize, ["input_size"] = info.InputSize,
                ["preprocess"] = info.Preprocess, ["threshold"] = info.Threshold, ["source"] = info.Source,
            }, Json));
        else
            stdout.WriteLine($"wrote {output}: {info.Name}, {info.EmbeddingSize}-d, input {info.InputSize}x{info.InputSize}, preprocess {info.Preprocess}, "
                + $"alignment {info.Alignment}, threshold {F(info.Threshold)} (from {info.Source})");
        return Ok;
    }

    /// <summary>MiniFASNet weights → a liveness network (its metadata says its crop, channels and the pair's threshold).</summary>
    private int ImportLiveness(string weights, string output, LivenessImportOptions options, bool json)
    {
        var info = LivenessImporter.ImportToFile(weights, output, options);
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["output"] = output, ["task"] = LivenessInfo.TaskLiveness, ["name"] = info.Name, ["input_size"] = info.InputSize,
                ["crop_scale"] = info.CropScale, ["channels"] = info.Channels, ["threshold"] = info.Threshold, ["source"] = info.Source,
            }, Json));
        else
            stdout.WriteLine($"wrote {output}: liveness network {info.Name}, input {info.InputSize}x{info.InputSize} {info.Channels.ToUpperInvariant()} "
                + $"{info.Range}, face box grown {info.CropScale.ToString(CultureInfo.InvariantCulture)}x, classes {string.Join(",", info.Classes)} (live: "
                + $"{info.LiveClass}), pair threshold {F(info.Threshold)} (from {info.Source})");
        return Ok;
    }

    private Command QuantizeCommand()
    {
        var model = new Argument<string>("model") { Description = "The model to quantize: a bundled model's name, default, an .onnx face model or a fused "
            + "model (.json)" };
        var output = Options.Required("--output", "The int8 model to write: .onnx for one network, .json for a fused model (its networks are written "
            + "beside it)", "-o");
        var calibration = new Option<string[]>("--calibration")
        {
            Description = "Photos (files or folders) whose faces calibrate the activation ranges; a few hundred photos of different people",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var faces = Options.Int("--faces", "Faces used for calibration at most (spread over the photos)", 256, 16, 100_000);
        var percentile = Options.Real("--percentile",
            "Share of each activation's calibration values its int8 range holds (the rest are clipped); 1: from minimum to maximum", 0.9999, 0.9, 1);
        var detector = DetectorOption();
        var cmd = new Command("quantize", "Make an int8 copy of a face model (per-channel int8 weights, activations calibrated on faces in your photos) "
            + "that runs faster on ONNX Runtime's integer kernels")
            { model, output, calibration, faces, percentile, detector };
        cmd.SetAction(r => Guard(() =>
        {
            var photos = Spread(ImageFiles(r.GetValue(calibration)!, "--calibration"), r.GetValue(faces) * 3 / 2);
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector) });
            var result = FaceNet.Import.Onnx.ModelQuantizer.Quantize(pipeline, photos, r.GetValue(output)!, r.GetValue(faces),
                r.GetValue(percentile), line => stderr.WriteLine(line));
            stdout.WriteLine($"wrote {string.Join(", ", result.Files)}: int8 of {pipeline.Model.Info.Name}, calibrated on {result.CalibrationFaces} faces "
                + $"({result.Summary})");
            return Ok;
        }));
        return cmd;
    }

    /// <summary>At most <paramref name="count"/> of the files, evenly spread (name order groups people together).</summary>
    private static List<string> Spread(List<string> files, int count)
    {
        if (files.Count <= count) return files;
        return Enumerable.Range(0, count).Select(i => files[(int)((long)i * files.Count / count)]).ToList();
    }
}
