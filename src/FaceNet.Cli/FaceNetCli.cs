namespace FaceNet.Cli;

/// <summary>
/// The <c>facenet</c> command line: parsing, output and exit codes only; the work is the library's.
/// Exit codes: 0 success, 1 usage, 2 input (image) error, 3 model or weights error.
/// </summary>
public sealed partial class FaceNetCli
{
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;

    public FaceNetCli(TextWriter stdout, TextWriter stderr)
    {
        this.stdout = stdout;
        this.stderr = stderr;
    }

    public const int Ok = 0, Usage = 1, InputError = 2, ModelError = 3;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private string[] _args = [];

    public int Run(string[] args)
    {
        _args = args;
        // a command named as users call it (a RootCommand is named after the executable, FaceNet.Cli), with the options a root has
        var root = new Command("facenet", "FaceNet for .NET: face embeddings, verification and model import on ONNX Runtime.") { new System.CommandLine.Help.HelpOption(), new VersionOption() };
        root.Subcommands.Add(ImportCommand());
        root.Subcommands.Add(EmbedCommand());
        root.Subcommands.Add(CompareCommand());
        root.Subcommands.Add(DetectCommand());
        root.Subcommands.Add(LivenessCommand());
        root.Subcommands.Add(AlignCommand());
        root.Subcommands.Add(EvaluateCommand());
        root.Subcommands.Add(CalibrateCommand());
        root.Subcommands.Add(EnrollCommand());
        root.Subcommands.Add(IdentifyCommand());
        root.Subcommands.Add(SubjectsCommand());
        root.Subcommands.Add(MigrateCommand());
        root.Subcommands.Add(GroupCommand());
        root.Subcommands.Add(ClusterCommand());
        root.Subcommands.Add(GalleryCommand());
        root.Subcommands.Add(AuditCommand());
        root.Subcommands.Add(QuantizeCommand());
        root.Subcommands.Add(VideoCommand());
        root.Subcommands.Add(TrainCommand());
        root.Subcommands.Add(BenchCommand());
        root.Subcommands.Add(ServeCommand());
        root.Subcommands.Add(KeysCommand());
        root.Subcommands.Add(TenantsCommand());
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                // one line, naming the problem; found before any file is read
                stderr.WriteLine("error: " + parsed.Errors[0].Message.TrimEnd('.'));
                return Usage;
            }
            return parsed.Invoke(config);
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    // ----- options shared by several commands -----
    private static Option<string?> ModelOption() => new("--model",
        "-m") { Description = "Model: a bundled model's name (default = fused, default-int8, mobilefacenet, faceapi-resnet), an .onnx file, a fused "
            + "model's .json, or weights to import on the fly (.h5, .pt, .safetensors, TF.js)" };
    private static Option<bool> JsonOption() => new("--json") { Description = "Machine-readable output on stdout" };
    private static Option<bool> AlignedOption() => new("--aligned") { Description = "Each image is already a face crop: resize it to the model input, no "
        + "detection" };
    private static Option<int> ThreadsOption() => new Option<int>("--threads") { Description = "ONNX Runtime threads (0: one per core)", DefaultValueFactory = _ => 0 }.Within(0, 256);
    private static Option<string?> PreprocessOption() => new("--preprocess") { Description = "Override the model's preprocessing: prewhiten, fixed or "
        + "meanstd:r,g,b:r,g,b" };
    private static Option<DetectorKind?> DetectorOption()
    {
        var o = new Option<DetectorKind?>("--detector", "-d") { Description = "Face detector: yunet+onet (default), yunet, mtcnn or haar" };
        o.CustomParser = r => Options.Parsed(r, "--detector", Detectors.Parse);
        o.CompletionSources.Add([.. Detectors.Names]);
        return o;
    }
    private static Option<bool> AllFacesOption() => new("--all-faces") { Description = "Every face of each image, not only the largest" };
    private static Option<bool> FlipOption() => new("--flip") { Description = "Average the embeddings of each face and its mirror image" };
    private static Option<AlignmentSpec?> AlignmentOption() => new("--alignment")
    {
        Description = "Override the model's alignment: margin:N, square:F, template:arcface112 or template:dlib",
        CustomParser = r => Options.ParsedRef(r, "--alignment", AlignmentSpec.Parse),
    };
    private static Argument<string[]> ImagesArgument() => Options.Images("images", "Image files or folders of them", ArgumentArity.OneOrMore);
    private static Option<double?> ThresholdOption(string description = "Same-person threshold (default: the model's)") => Options.Real("--threshold", description, 0, 4, minOpen: true);

    // ----- helpers -----
    /// <summary>What a threshold stands for: given on the command line, or how it was chosen and the error rates measured there.</summary>
    private static string ThresholdSource(ModelInfo info, double? given) => given is null ? info.DescribeThreshold() : "given with --threshold";

    /// <summary>
    /// The recognizer a command asked for, through the library's one way to configure it; weights files given
    /// as the model are imported on the fly. <paramref name="aligned"/>: the images are face crops already.
    /// </summary>
    private static FaceRecognizer Pipeline(FaceRecognizerOptions options, bool aligned = false)
    {
        options = options with { ImportWeights = path => WeightImporter.Import(path).Onnx }; // .h5, .pt, .safetensors, TF.js
        if (!aligned) return FaceRecognizer.Create(options);
        var faceModel = FaceRecognizer.LoadModel(options);
        return FaceRecognizer.From(new NoDetector(), faceModel, options.ImageLimits, options.AlignmentDetail);
    }

    /// <summary>Which faces of a photo a command embeds: the whole image when aligned, else every face or the subject.</summary>
    private static PhotoFaces Which(bool aligned, bool allFaces) => aligned ? PhotoFaces.WholeImage : allFaces ? PhotoFaces.All : PhotoFaces.Subject;

    /// <summary>
    /// The images a many-image command works on: files as given (a missing one is reported when read, and
    /// the rest go on), folders searched recursively for image files, in name order.
    /// </summary>
    private static List<string> ImageFiles(IEnumerable<string> inputs, string what)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*",
                    SearchOption.AllDirectories).Where(ImageDecoder.IsImageFile).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new ImageException(input, "folder holds no image files");
                files.AddRange(found);
            }
            else files.Add(input);
        }
        if (files.Count == 0) throw new UsageException($"{what}: no images given");
        return files;
    }

    /// <summary>Stands in for a detector when images are already face crops.</summary>
    private sealed class NoDetector : IFaceDetector
    {
        public string Name => "none";
        public IReadOnlyList<DetectedFace> Detect(RgbImage image) => [new DetectedFace(new FaceBox(0, 0, image.Width, image.Height), 1, null)];
        public void Dispose() { }
    }

    private int Guard(Func<int> action)
    {
        try { return action(); }
        catch (Exception e) { return Fail(e); }
    }

    private int Fail(Exception e)
    {
        switch (e)
        {
            case UsageException u: stderr.WriteLine("error: " + u.Message); return Usage;
            case FaceNetException { Kind: FaceNetErrorKind.Locked } f when f is not GalleryException { NotEncrypted: true }:
                stderr.WriteLine($"error: {OneLine(f.Message)} (--master-key-file, or the file {MasterKey.EnvironmentVariable} names)");
                return ExitCode(f.Kind);
            case FaceNetException f: stderr.WriteLine("error: " + OneLine(f.Message)); return ExitCode(f.Kind);
            case FormatException or ArgumentException: stderr.WriteLine("error: " + e.Message); return Usage;
            case IOException or UnauthorizedAccessException: stderr.WriteLine("error: " + e.Message); return InputError;
            default:
                stderr.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message}");
                // a fault of ours: FACENET_TRACE=1 gives the stack for the bug report
                if (Environment.GetEnvironmentVariable("FACENET_TRACE") == "1") stderr.WriteLine(e.ToString());
                return 70;
        }
    }

    /// <summary>The one place a kind of fault becomes an exit code.</summary>
    private static int ExitCode(FaceNetErrorKind kind) => kind switch
    {
        FaceNetErrorKind.Output or FaceNetErrorKind.Setting => Usage,
        FaceNetErrorKind.BadModel or FaceNetErrorKind.ModelMismatch or FaceNetErrorKind.Locked => ModelError, // 3: what was given does not fit (a model, a key)
        _ => InputError, // images, pairs files, galleries, videos, keys
    };

    /// <summary>One line, of a readable length, whatever a reader of a broken file produced.</summary>
    private static string OneLine(string message)
    {
        var line = message.ReplaceLineEndings(" ");
        return line.Length <= 400 ? line : line[..400] + " …";
    }

    private void ReportInput(FaceNetException e, string? hint = null) => stderr.WriteLine($"error: {e.File}: {e.Reason}{(hint is null ? "" : "; " + hint)}");

    /// <summary>
    /// One JSON line: the service's record for the same thing (same field names) with the command's own
    /// fields: which file and face lead, a field the record has too is replaced (a whole crop has no box),
    /// the rest follow.
    /// </summary>
    private static string JsonLine(object record, params (string Name, object? Value)[] own) => Merged(record, own).ToJsonString(Json);

    private static System.Text.Json.Nodes.JsonObject Merged(object record, params (string Name, object? Value)[] own)
    {
        var line = new System.Text.Json.Nodes.JsonObject();
        var mine = own.ToDictionary(o => o.Name, o => JsonSerializer.SerializeToNode(o.Value, Json));
        foreach (var lead in (string[])["file", "face"])
            if (mine.Remove(lead, out var value)) line[lead] = value;
        var fields = JsonSerializer.SerializeToNode(record, record.GetType(), ApiJson.Options)!.AsObject();
        foreach (var (name, value) in fields.ToList())
        {
            fields.Remove(name);
            line[name] = mine.Remove(name, out var replaced) ? replaced : value;
        }
        foreach (var (name, value) in mine) line[name] = value;
        return line;
    }

    private static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    private sealed class UsageException(string message) : Exception(message);
}
