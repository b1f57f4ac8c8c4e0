using FaceNet.Training;

namespace FaceNet.Cli;

// facenet train: a head fine-tuned with the triplet loss on the user's own people.
public sealed partial class FaceNetCli
{
    private Command TrainCommand()
    {
        var folders = new Option<string>("--from-folders") { Description = "Training faces: one sub-folder of photos per person", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX model to write (the base network with the trained head)", Required = true };
        var baseModel = new Option<string>("--base")
        {
            Description = "The frozen network under the head: a bundled single network or an .onnx (not a fused model)",
            DefaultValueFactory = _ => "mobilefacenet",
        };
        var validation = new Option<string?>("--validation")
        {
            Description = "Validation faces, of other people (default: one person in five of --from-folders is held out)",
        };
        var head = new Option<string>("--head")
        {
            Description = "linear (a projection, starting as the base; --dim sets its size) or residual (the base plus a learned "
                + "correction)",
            DefaultValueFactory = _ => "linear",
        };
        head.AcceptOnlyFromAmong("residual", "linear");
        var dim = new Option<int>("--dim") { Description = "Output size of a linear head (default: the base's)", DefaultValueFactory = _ => 0 }.Within(0, 4096);
        var margin = Options.Real("--margin", "Triplet margin α on squared distances of unit vectors", 0.2, 0, 4, minOpen: true);
        var epochs = new Option<int>("--epochs")
        {
            Description = "Epochs at most (training stops earlier when the validation people stop improving)",
            DefaultValueFactory = _ => 30,
        }.Within(1, 10_000);
        var peoplePerBatch = new Option<int>("--people-per-batch")
        {
            Description = "People in a mini-batch (P)",
            DefaultValueFactory = _ => 16,
        }.Within(2, 10_000);
        var facesPerPerson = new Option<int>("--faces-per-person")
        {
            Description = "Faces of each person in a mini-batch (K)",
            DefaultValueFactory = _ => 4,
        }.Within(2, 1000);
        var lr = Options.Real("--learning-rate", "Adam's learning rate at the start (cosine decay to 1/20)", 1e-3, 0, 1, minOpen: true);
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of initialisation, batches and the validation split: the same seed gives the same head",
            DefaultValueFactory = _ => 1,
        };
        var plot = new Option<string?>("--plot") { Description = "Write the training curve (loss, validation VAL@FAR) as a PNG" };
        var cache = new Option<string?>("--cache")
        {
            Description = $"Embedding cache folder, shared with evaluate (default {FaceNet.Evaluation.EmbeddingCache.DefaultDirectory})",
        };
        var noCache = new Option<bool>("--no-cache") { Description = "Embed every photo again" };
        var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var cmd = new Command("train", "Fine-tune an embedding head on your own people with FaceNet's triplet loss and online semi-hard negatives")
            { folders, output, baseModel, validation, head, dim, margin, epochs, peoplePerBatch, facesPerPerson, lr, seed, plot, cache,
                noCache, detector, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var outPath = r.GetValue(output)!;
            if (!outPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) throw new UsageException($"--output: {outPath}: the trained model is an .onnx file");
            if (Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir
                && !Directory.Exists(dir)) throw new UsageException($"--output: folder {dir} does not exist");
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(baseModel), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads) });
            if (pipeline.Model.IsFused) throw new UsageException($"--base: {r.GetValue(baseModel)} is a fused model; training needs one network under the head (mobilefacenet, faceapi-resnet or an .onnx)");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var embeddings = new FaceNet.Evaluation.EmbeddingCache(r.GetValue(noCache) ? null : r.GetValue(cache)
                ?? FaceNet.Evaluation.EmbeddingCache.DefaultDirectory,
                FaceNet.Evaluation.EmbeddingCache.PipelineKey(pipeline.Model.Identity, pipeline.Detector.Name, false));
            var all = HeadTraining.Load(pipeline, r.GetValue(folders)!, line => stderr.WriteLine(line), embeddings);
            FaceSet train, valid;
            if (r.GetValue(validation) is { } v) (train, valid) = (all, HeadTraining.Load(pipeline, v, cache: embeddings));
            else (train, valid) = HeadTraining.SplitPeople(all, 5, r.GetValue(seed));
            double embedSeconds = clock.Elapsed.TotalSeconds;
            stderr.WriteLine($"{all.Faces.Count + (r.GetValue(validation) is null ? 0 : valid.Faces.Count)} faces embedded (or read from the cache) in {embedSeconds:0.0} s; training on {train.People.Count} people ({train.Faces.Count} faces), validating on {valid.People.Count} others ({valid.Faces.Count} faces); {all.Skipped} photos without a face or unreadable");
            double last = clock.Elapsed.TotalSeconds;
            var options = new TrainingOptions
            {
                Head = r.GetValue(head) == "residual" ? HeadKind.Residual : HeadKind.Linear, Dimension = r.GetValue(dim), Margin = (float)r.GetValue(margin),
                Epochs = r.GetValue(epochs), PeoplePerBatch = r.GetValue(peoplePerBatch), FacesPerPerson = r.GetValue(facesPerPerson),
                LearningRate = r.GetValue(lr), Seed = r.GetValue(seed),
            };
            var trained = HeadTraining.Train(pipeline, train, valid, outPath, options, (e, total) =>
            {
                double now = clock.Elapsed.TotalSeconds, took = now - last;
                last = now;
                stderr.WriteLine($"epoch {e.Epoch}/{total}: loss {e.Loss:F4}, semi-hard {e.SemiHardShare:P0} of triplets, validation VAL@FAR=1e-3 {e.ValidationVal:F4}, accuracy {e.ValidationAccuracy:F4} ({took:0.0} s, {train.Faces.Count / Math.Max(took, 1e-9):0} faces/s)");
            });
            var res = trained.Result;
            if (r.GetValue(plot) is { } png)
                FaceNet.Evaluation.RocPlot.SaveCurve(png,
                    $"{Path.GetFileName(outPath)}: triplet training on {trained.TrainPeople} people, validated on {trained.ValidationPeople} others",
                    res.History.Select(e => (e.Epoch, e.Loss, e.ValidationVal)).ToList(), res.BestEpoch, res.Base.Val, "VAL@FAR=1e-3");
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["output"] = outPath, ["best_epoch"] = res.BestEpoch, ["epochs_run"] = res.History.Count, ["threshold"] = Math.Round(trained.Threshold, 4),
                    ["validation_val"] = Math.Round(res.Best.Val, 4), ["base_validation_val"] = Math.Round(res.Base.Val, 4),
                    ["validation_accuracy"] = Math.Round(res.Best.Accuracy, 4), ["base_validation_accuracy"] = Math.Round(res.Base.Accuracy, 4),
                    ["train_people"] = trained.TrainPeople, ["train_faces"] = trained.TrainFaces, ["validation_people"] = trained.ValidationPeople, ["validation_faces"] = trained.ValidationFaces,
                }, Json));
            else
                stdout.WriteLine($"wrote {outPath}: epoch {res.BestEpoch} of {res.History.Count} kept; validation people VAL@FAR=1e-3 {res.Best.Val:F4} (base {res.Base.Val:F4}), balanced accuracy {res.Best.Accuracy:F4} (base {res.Base.Accuracy:F4}), threshold {F(trained.Threshold)}"
                    + (res.Best.Val <= res.Base.Val ? "; the head does not beat its base on these people" : ""));
            return Ok;
        }));
        return cmd;
    }
}
