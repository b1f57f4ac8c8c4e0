namespace FaceNet.Training;

/// <summary>
/// Trains an <see cref="EmbeddingHead"/> with <see cref="TripletLoss"/>: mini-batches of P people × K faces,
/// semi-hard negatives mined in each batch, Adam with a cosine learning-rate decay, early stopping on the
/// validation people's VAL@FAR (people never trained on). A fixed seed gives the same head.
/// </summary>
public static class TripletTrainer
{
    public static TrainingResult Train(IReadOnlyList<(int Person, float[] X)> train, IReadOnlyList<(int Person, float[] X)> validation,
        TrainingOptions o, Action<EpochRecord, int>? progress = null)
    {
        if (train.Count == 0) throw new ArgumentException("no training faces");
        int inputSize = train[0].X.Length;
        var head = new EmbeddingHead(o.Head, inputSize, o.Dimension > 0 ? o.Dimension : inputSize, o.Seed);
        var rng = new Random(o.Seed);
        var people = train.Select((f, i) => (f.Person, i)).GroupBy(x => x.Person).Where(g => g.Count() >= 2).Select(g => g.Select(x => x.i).ToArray()).ToList();
        if (people.Count < 2) throw new ArgumentException("training needs at least two people with two faces or more");
        int p = Math.Min(o.PeoplePerBatch, people.Count), k = Math.Max(2, o.FacesPerPerson);
        int batches = Math.Max(1, (int)Math.Ceiling(train.Count / (double)(p * k)));

        var adamM = new double[head.Parameters.Length];
        var adamV = new double[head.Parameters.Length];
        long step = 0;
        var history = new List<EpochRecord>();
        var baseFigures = Validate(head, validation, o.Far);
        var best = baseFigures;
        var bestParameters = (float[])head.Parameters.Clone();
        int bestEpoch = 0, since = 0;
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            double lr = o.LearningRate * (0.05 + 0.95 * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / Math.Max(1, o.Epochs))));
            double lossSum = 0;
            long semi = 0, all = 0;
            for (int b = 0; b < batches; b++)
            {
                // P people, K faces each (without repeats while a person has enough)
                var chosen = people.OrderBy(_ => rng.Next()).Take(p).ToList();
                var idx = new List<int>();
                var labels = new List<int>();
                for (int c = 0; c < chosen.Count; c++)
                {
                    var faces = chosen[c].OrderBy(_ => rng.Next()).ToList();
                    for (int j = 0; j < k; j++) { idx.Add(faces[j % faces.Count]); labels.Add(c); }
                }
                var passes = idx.Select(i => head.Forward(train[i].X)).ToList();
                var outputs = passes.Select(x => x.Output.ToArray()).ToList();
                var triplets = TripletLoss.Mine(outputs, labels, o.Margin);
                var dOut = outputs.Select(u => new float[u.Length]).ToArray();
                lossSum += TripletLoss.LossAndGradient(outputs, triplets, o.Margin, dOut);
                semi += triplets.Count(t => t.SemiHard);
                all += triplets.Count;
                var grad = new float[head.Parameters.Length];
                for (int i = 0; i < passes.Count; i++) head.Backward(passes[i], dOut[i], grad);
                // Adam
                step++;
                double c1 = 1 - Math.Pow(0.9, step), c2 = 1 - Math.Pow(0.999, step);
                for (int i = 0; i < grad.Length; i++)
                {
                    adamM[i] = 0.9 * adamM[i] + 0.1 * grad[i];
                    adamV[i] = 0.999 * adamV[i] + 0.001 * grad[i] * (double)grad[i];
                    head.Parameters[i] -= (float)(lr * (adamM[i] / c1) / (Math.Sqrt(adamV[i] / c2) + 1e-8));
                }
            }
            var figures = Validate(head, validation, o.Far);
            var record = new EpochRecord(epoch, lossSum / batches, all > 0 ? semi / (double)all : 0, figures.Val, figures.Accuracy);
            history.Add(record);
            progress?.Invoke(record, o.Epochs);
            if (figures.Val > best.Val || figures.Val == best.Val && figures.Accuracy > best.Accuracy)
            {
                (best, bestEpoch, since) = (figures, epoch, 0);
                Array.Copy(head.Parameters, bestParameters, bestParameters.Length);
            }
            else if (++since >= o.Patience) break;
        }
        Array.Copy(bestParameters, head.Parameters, bestParameters.Length);
        return new TrainingResult(head, history, bestEpoch, baseFigures, best);
    }

    /// <summary>Figures of the head on the validation faces (every pair: same person, different people).</summary>
    public static ValidationFigures Validate(EmbeddingHead head, IReadOnlyList<(int Person, float[] X)> faces, double far)
    {
        var u = faces.Select(f => head.Apply(f.X)).ToArray();
        var same = new List<double>();
        var diff = new List<double>();
        for (int i = 0; i < u.Length; i++)
            for (int j = i + 1; j < u.Length; j++)
                (faces[i].Person == faces[j].Person ? same : diff).Add(Math.Sqrt(TripletLoss.SquaredDistance(u[i], u[j])));
        if (same.Count == 0 || diff.Count == 0) return new ValidationFigures(0, 0, 1, same.Count, diff.Count);
        same.Sort();
        diff.Sort();
        // VAL: same pairs accepted at the largest threshold whose false-accept rate stays within far
        int allowed = (int)Math.Floor(far * diff.Count);
        double valThreshold = allowed < diff.Count ? diff[allowed] - 1e-9 : double.MaxValue;
        double val = CountAtMost(same, valThreshold) / (double)same.Count;
        // balanced accuracy over candidate thresholds (midpoints of the sorted distances)
        double bestAcc = 0, bestT = 0;
        foreach (var t in same.Concat(diff).Where((_, i) => i % Math.Max(1, (same.Count + diff.Count) / 4000) == 0))
        {
            double acc = 0.5 * (CountAtMost(same, t) / (double)same.Count + (diff.Count - CountAtMost(diff, t)) / (double)diff.Count);
            if (acc > bestAcc) (bestAcc, bestT) = (acc, t);
        }
        return new ValidationFigures(val, bestAcc, bestT, same.Count, diff.Count);
    }

    private static int CountAtMost(List<double> sorted, double t)
    {
        int i = sorted.BinarySearch(t);
        if (i < 0) return ~i;
        while (i + 1 < sorted.Count && sorted[i + 1] <= t) i++;
        return i + 1;
    }
}
