using FaceNet.Training;

namespace FaceNet.Tests.Training;

/// <summary>The triplet training's parts proven on their own: gradients, mining, and learning on a made-up case.</summary>
public sealed class TrainingTests
{
    private static float[] Unit(Random rng, int n)
    {
        var v = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        FaceNet.Embedding.L2.NormalizeInPlace(v);
        return v;
    }

    [Theory]
    [InlineData(HeadKind.Linear)]
    [InlineData(HeadKind.Residual)]
    public void Head_and_loss_gradients_match_finite_differences(HeadKind kind)
    {
        var rng = new Random(5);
        var head = new EmbeddingHead(kind, 6, 4, seed: 2);
        // move away from the identity start so every path (relu, W₂) carries gradient
        for (int i = 0; i < head.Parameters.Length; i++) head.Parameters[i] += (float)((rng.NextDouble() - 0.5) * 0.6);
        var inputs = Enumerable.Range(0, 6).Select(_ => Unit(rng, 6)).ToList();
        int[] labels = [0, 0, 1, 1, 2, 2];
        const float margin = 0.5f;
        var triplets = TripletLoss.Mine(inputs.Select(x => head.Apply(x)).ToList(), labels, margin);

        double Loss()
        {
            var outs = inputs.Select(x => head.Apply(x)).ToList();
            return TripletLoss.LossAndGradient(outs, triplets, margin, outs.Select(u => new float[u.Length]).ToArray());
        }
        var passes = inputs.Select(x => head.Forward(x)).ToList();
        var outputs = passes.Select(p => p.Output.ToArray()).ToList();
        var dOut = outputs.Select(u => new float[u.Length]).ToArray();
        Assert.True(TripletLoss.LossAndGradient(outputs, triplets, margin, dOut) > 0, "the check needs active triplets");
        var grad = new float[head.Parameters.Length];
        for (int i = 0; i < passes.Count; i++) head.Backward(passes[i], dOut[i], grad);

        int checkedCount = 0;
        for (int k = 0; k < head.Parameters.Length; k += 2)
        {
            float keep = head.Parameters[k];
            const float h = 1e-3f;
            head.Parameters[k] = keep + h; double up = Loss();
            head.Parameters[k] = keep - h; double down = Loss();
            head.Parameters[k] = keep;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[k]) <= 2e-3 + 0.02 * Math.Abs(numeric), $"parameter {k}: analytic {grad[k]:G5}, numeric {numeric:G5}");
            checkedCount++;
        }
        Assert.True(checkedCount > 10);
    }

    [Fact]
    public void Semi_hard_negatives_are_the_nearest_ones_beyond_the_positive_and_the_hardest_when_none_is()
    {
        // points on a line (as unit vectors on a circle arc would be; distances are what matter)
        float[] P(float x) => [x, 0];
        var outputs = new List<float[]> { P(0), P(0.5f), P(0.6f), P(0.9f), P(0.2f) };
        int[] labels = [0, 0, 1, 1, 2];
        var t = TripletLoss.Mine(outputs, labels, 0.2f);
        // anchor 0, positive 1: d_ap 0.25; negatives 0.36 (semi-hard: under 0.45), 0.81, 0.04 (hard) → 0.6
        var a0p1 = t.Single(x => x.Anchor == 0 && x.Positive == 1);
        Assert.Equal((2, true), (a0p1.Negative, a0p1.SemiHard));
        // anchor 1, positive 0: d_ap 0.25; negatives 0.01, 0.16, 0.09: none beyond d_ap → the hardest, 0.6
        var a1p0 = t.Single(x => x.Anchor == 1 && x.Positive == 0);
        Assert.Equal((2, false), (a1p0.Negative, a1p0.SemiHard));
        // anchor 0.6, positive 0.9: d_ap 0.09; negatives 0.36, 0.01 (hard), 0.16 (semi-hard, under 0.29) → 0.2
        var a2p3 = t.Single(x => x.Anchor == 2 && x.Positive == 3);
        Assert.Equal((4, true), (a2p3.Negative, a2p3.SemiHard));
        // anchor 0.9, positive 0.6: d_ap 0.09; negatives 0.81, 0.16 (semi-hard), 0.49 → 0.5, the nearest semi-hard one
        var a3p2 = t.Single(x => x.Anchor == 3 && x.Positive == 2);
        Assert.Equal((1, true), (a3p2.Negative, a3p2.SemiHard));
        Assert.DoesNotContain(t, x => labels[x.Anchor] == 2); // a person with one face anchors nothing
    }

    [Fact]
    public void Training_separates_identity_clusters_that_overlap_in_the_base_embedding()
    {
        // 40 people; each person's faces = a person direction + a large nuisance shared across people (lighting, say)
        var rng = new Random(11);
        const int dims = 16, peopleCount = 40;
        var nuisance = Enumerable.Range(0, 3).Select(_ => Unit(rng, dims)).ToArray();
        var identity = Enumerable.Range(0, peopleCount).Select(_ => Unit(rng, dims)).ToArray();
        List<(int, float[])> Faces(int from, int to, int seed)
        {
            var r = new Random(seed);
            var list = new List<(int, float[])>();
            for (int p = from; p < to; p++)
                for (int f = 0; f < 6; f++)
                {
                    var v = new float[dims];
                    var n = nuisance[r.Next(3)];
                    for (int i = 0; i < dims; i++) v[i] = 0.35f * identity[p][i] + 1.0f * n[i] + 0.12f * (float)(r.NextDouble() * 2 - 1);
                    FaceNet.Embedding.L2.NormalizeInPlace(v);
                    list.Add((p - from, v));
                }
            return list;
        }
        var train = Faces(0, 30, 1);
        var validation = Faces(30, 40, 2); // people never trained on
        var options = new TrainingOptions { Head = HeadKind.Linear, Epochs = 40, PeoplePerBatch = 10, FacesPerPerson = 4, LearningRate = 0.01, Seed = 3, Patience = 40 };
        var result = TripletTrainer.Train(train, validation, options);
        Assert.True(result.Base.Accuracy < 0.8, $"the made-up case should be hard for the base: {result.Base.Accuracy:F3}");
        Assert.True(result.Best.Accuracy > result.Base.Accuracy + 0.1, $"validation accuracy {result.Base.Accuracy:F3} → {result.Best.Accuracy:F3}");
        Assert.True(result.History[^1].Loss < result.History[0].Loss, "training loss did not fall");
        // a fixed seed gives the same head
        var again = TripletTrainer.Train(train, validation, options);
        Assert.Equal(result.Head.Parameters, again.Head.Parameters);
    }

    [Theory]
    [InlineData(HeadKind.Residual, 0)]
    [InlineData(HeadKind.Linear, 64)]
    public void The_written_model_is_the_base_network_with_the_head_and_computes_what_the_trainer_computed(HeadKind kind, int dim)
    {
        var dir = Directory.CreateTempSubdirectory("facenet-train-").FullName;
        try
        {
            void Person(string root, string name, params string[] photos)
            {
                Directory.CreateDirectory(Path.Combine(root, name));
                foreach (var p in photos) File.Copy(TestImages.DataPath("faces", p), Path.Combine(root, name, p));
            }
            var trainDir = Path.Combine(dir, "train");
            var validDir = Path.Combine(dir, "valid");
            Person(trainDir, "a", "img1.jpg", "img2.jpg", "img4.jpg");
            Person(trainDir, "b", "img3.jpg", "img12.jpg");
            Person(validDir, "c", "img8.jpg", "img9.jpg");
            Person(validDir, "d", "img16.jpg", "img17.jpg");
            using var recognizer = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet" });
            var train = HeadTraining.Load(recognizer, trainDir);
            var valid = HeadTraining.Load(recognizer, validDir);
            Assert.Equal(5, train.Faces.Count);
            var output = Path.Combine(dir, "tuned.onnx");
            var trained = HeadTraining.Train(recognizer, train, valid, output, new TrainingOptions { Head = kind, Dimension = dim, Epochs = 5, PeoplePerBatch = 2, FacesPerPerson = 2, LearningRate = 0.01, Seed = 4 });

            using var tuned = FaceRecognizer.Create(new FaceRecognizerOptions { Model = output });
            Assert.Equal(trained.Result.Head.OutputSize, tuned.Model.Info.EmbeddingSize);
            Assert.Equal(trained.Threshold, tuned.Threshold, 6);
            Assert.NotEqual(recognizer.Model.Identity, tuned.Model.Identity);
            foreach (var photo in new[] { "img1.jpg", "img8.jpg" })
            {
                var baseVector = recognizer.EmbedMain(recognizer.Read(TestImages.DataPath("faces", photo))).Face.Vector;
                var expected = trained.Result.Head.Apply(baseVector);
                var actual = tuned.EmbedMain(tuned.Read(TestImages.DataPath("faces", photo))).Face.Vector;
                Assert.Equal(expected.Length, actual.Length);
                for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"{photo}[{i}]: trainer {expected[i]}, ONNX {actual[i]}");
            }
            // the metadata says what it was trained from and on
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(output);
            var meta = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal(recognizer.Model.Identity, meta["facenet.training_base"]);
            Assert.Contains("2 people, 5 faces", meta["facenet.training_data"]);
            Assert.Equal("0.2", meta["facenet.training_margin"]);

            // the same people as training and validation are refused
            Assert.Throws<ArgumentException>(() => HeadTraining.Train(recognizer, train, train, output, new TrainingOptions { Epochs = 1 }));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Training_from_folders_holds_out_one_person_in_five_unless_validation_people_are_given()
    {
        var dir = Directory.CreateTempSubdirectory("facenet-train-folders-").FullName;
        try
        {
            string[] photos = ["img1.jpg", "img2.jpg", "img3.jpg", "img4.jpg", "img8.jpg", "img9.jpg", "img12.jpg", "img16.jpg", "img17.jpg",
                "kit_harington_1.jpg", "kit_harington_2.jpg"];
            string People(string root, int count, int from)
            {
                for (int p = 0; p < count; p++)
                {
                    Directory.CreateDirectory(Path.Combine(root, $"p{from + p}"));
                    for (int k = 0; k < 2; k++) File.Copy(TestImages.DataPath("faces", photos[(2 * (from + p) + k) % photos.Length]), Path.Combine(root, $"p{from + p}", $"{k}.jpg"));
                }
                return root;
            }
            var people = People(Path.Combine(dir, "people"), 10, 0);
            var others = People(Path.Combine(dir, "others"), 2, 10);
            using var recognizer = FaceRecognizer.Create(new FaceRecognizerOptions { Model = "mobilefacenet" });
            var options = new TrainingOptions { Epochs = 2, PeoplePerBatch = 2, FacesPerPerson = 2, Seed = 3 };
            var notes = new List<string>();

            var split = HeadTraining.FromFolders(recognizer, people, null, Path.Combine(dir, "split.onnx"), options, note: notes.Add);
            Assert.Equal((8, 16, 2, 4), (split.TrainPeople, split.TrainFaces, split.ValidationPeople, split.ValidationFaces));
            Assert.Contains(notes, n => n.StartsWith("20 faces embedded", StringComparison.Ordinal) && n.Contains("training on 8 people"));

            var given = HeadTraining.FromFolders(recognizer, people, others, Path.Combine(dir, "given.onnx"), options);
            Assert.Equal((10, 2), (given.TrainPeople, given.ValidationPeople));
            Assert.True(File.Exists(split.Output) && File.Exists(given.Output));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Train_cli_refuses_a_fused_base_and_a_non_onnx_output_before_any_work()
    {
        var fused = FaceNet.Tests.Cli.CliRunner.Run("train", "--from-folders", TestImages.DataPath("faces"), "-o", Path.Combine(Path.GetTempPath(), "x.onnx"), "--base", "default");
        Assert.Equal(1, fused.ExitCode);
        Assert.Contains("fused", fused.Err);
        var json = FaceNet.Tests.Cli.CliRunner.Run("train", "--from-folders", TestImages.DataPath("faces"), "-o", "x.json");
        Assert.Equal(1, json.ExitCode);
        Assert.Contains(".onnx", json.Err);
        var missing = FaceNet.Tests.Cli.CliRunner.Run("train", "--from-folders", "/nonexistent-people", "-o", Path.Combine(Path.GetTempPath(), "x.onnx"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("folder not found", missing.Err);
    }
}
