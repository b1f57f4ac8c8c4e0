using FaceNet.Evaluation;
using FaceNet.Training;

namespace FaceNet.Cli;

// facenet train: a head fine-tuned with the triplet loss on the user's own people.
public sealed partial class FaceNetCli
{
    private Command TrainCommand()
    {
        var folders = Options.Required("--from-folders", "Training faces: one sub-folder of photos per person");
        var output = Options.Required("--output", "The ONNX model to write (the base network with the trained head)", "-o");
        var baseModel = Options.Setting("--base", "The frozen network under the head: a bundled single network or an .onnx (not a fused model)", "mobilefacenet");
        var validation = Options.Text("--validation", "Validation faces, of other people (default: one person in five of --from-folders is held out)");
        var head = Options.Setting("--head", "linear (a projection, starting as the base; --dim sets its size) or residual (the base plus a learned "
            + "correction)", "linear", "residual", "linear");
        var dim = Options.Int("--dim", "Output size of a linear head (default: the base's)", 0, 0, 4096);
        var margin = Options.Real("--margin", "Triplet margin α on squared distances of unit vectors", 0.2, 0, 4, minOpen: true);
        var epochs = Options.Int("--epochs", "Epochs at most (training stops earlier when the validation people stop improving)", 30, 1, 10_000);
        var peoplePerBatch = Options.Int("--people-per-batch", "People in a mini-batch (P)", 16, 2, 10_000);
        var facesPerPerson = Options.Int("--faces-per-person", "Faces of each person in a mini-batch (K)", 4, 2, 1000);
        var lr = Options.Real("--learning-rate", "Adam's learning rate at the start (cosine decay to 1/20)", 1e-3, 0, 1, minOpen: true);
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, batches and the validation split: the same seed gives the same "
            + "head", DefaultValueFactory = _ => 1 };
        var plot = Options.Text("--plot", "Write the training curve (loss, validation VAL@FAR) as a PNG");
        var (cache, noCache) = CacheOptions();
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var cmd = new Command("train", "Fine-tune an embedding head on your own people with FaceNet's triplet loss and online semi-hard negatives")
            { folders, output, baseModel, validation, head, dim, margin, epochs, peoplePerBatch, facesPerPerson, lr, seed, plot, cache,
                noCache, detector, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var outPath = r.GetValue(output)!;
            if (!outPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--output: {outPath}: the trained model is an .onnx file");
            OutputFolderExists("--output", outPath);
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(baseModel), Detector = r.GetValue(detector), Threads = r.GetValue(threads) });
            if (pipeline.Model.IsFused) throw new UsageException($"--base: {r.GetValue(baseModel)} is a fused model; training needs one network under the "
                + $"head (mobilefacenet, faceapi-resnet or an .onnx)");
            using var embeddings = new EmbeddingCache(CacheFolder(r, (cache, noCache)),
                EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name, false));
            var options = new TrainingOptions
            {
                Head = r.GetValue(head) == "residual" ? HeadKind.Residual : HeadKind.Linear, Dimension = r.GetValue(dim), Margin = (float)r.GetValue(margin),
                Epochs = r.GetValue(epochs), PeoplePerBatch = r.GetValue(peoplePerBatch), FacesPerPerson = r.GetValue(facesPerPerson),
                LearningRate = r.GetValue(lr), Seed = r.GetValue(seed),
            };
            var (train, valid) = HeadTraining.LoadFolders(pipeline, r.GetValue(folders)!, r.GetValue(validation), options.Seed, embeddings, stderr.WriteLine);
            var trained = HeadTraining.Train(pipeline, train, valid, outPath, options, EpochReporter(train.Faces.Count));
            if (r.GetValue(plot) is { } png)
                RocPlot.SaveCurve(png, $"{Path.GetFileName(outPath)}: triplet training on {trained.TrainPeople} people, validated on "
                    + $"{trained.ValidationPeople} others",
                    trained.Result.History.Select(e => (e.Epoch, e.Loss, e.ValidationVal)).ToList(), trained.Result.BestEpoch, trained.Result.Base.Val, "VAL@FAR=1e-3");
            ReportTraining(trained, r.GetValue(json));
            return Ok;
        }));
        return cmd;
    }

    /// <summary>A line per epoch on stderr, with the time it took (from now: made when training starts).</summary>
    private Action<EpochRecord, int> EpochReporter(int trainFaces)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double last = 0;
        return (e, total) =>
        {
            double now = clock.Elapsed.TotalSeconds, took = now - last;
            last = now;
            stderr.WriteLine($"epoch {e.Epoch}/{total}: loss {e.Loss:F4}, semi-hard {e.SemiHardShare:P0} of triplets, validation VAL@FAR=1e-3 "
                + $"{e.ValidationVal:F4}, "
                + $"accuracy {e.ValidationAccuracy:F4} ({took:0.0} s, {trainFaces / Math.Max(took, 1e-9):0} faces/s)");
        };
    }

    private void ReportTraining(TrainedModel trained, bool json)
    {
        var res = trained.Result;
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["output"] = trained.Output, ["best_epoch"] = res.BestEpoch, ["epochs_run"] = res.History.Count, ["threshold"] = Math.Round(trained.Threshold, 4),
                ["validation_val"] = Math.Round(res.Best.Val, 4), ["base_validation_val"] = Math.Round(res.Base.Val, 4),
                ["validation_accuracy"] = Math.Round(res.Best.Accuracy, 4), ["base_validation_accuracy"] = Math.Round(res.Base.Accuracy, 4),
                ["train_people"] = trained.TrainPeople, ["train_faces"] = trained.TrainFaces, ["validation_people"] = trained.ValidationPeople, ["validation_faces"] = trained.ValidationFaces,
            }, Json));
        else
            stdout.WriteLine($"wrote {trained.Output}: epoch {res.BestEpoch} of {res.History.Count} kept; validation people VAL@FAR=1e-3 {res.Best.Val:F4} "
                + $"(base {res.Base.Val:F4}), balanced accuracy {res.Best.Accuracy:F4} (base {res.Base.Accuracy:F4}), threshold {F(trained.Threshold)}"
                + (res.Best.Val <= res.Base.Val ? "; the head does not beat its base on these people" : ""));
    }

    /// <summary>A file to write must go into a folder that exists: a usage error naming the option otherwise.</summary>
    private static void OutputFolderExists(string option, string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir && !Directory.Exists(dir)) throw new UsageException($"{option}: folder {dir} does not "
            + $"exist");
    }
}
