namespace FaceNet.Evaluation;

/// <summary>
/// Threshold calibration as a workflow: embed the user's labelled faces, choose the threshold for the goal, and
/// (when asked) the impostor tail identification chooses thresholds from and the thresholds per pose band; then
/// write a copy of the model that carries them.
/// </summary>
public static class Calibrator
{
    /// <summary>Runs a calibration; <paramref name="note"/> hears what was left out (a folder too small for a tail). Bad requests are <see cref="ArgumentException"/>.</summary>
    public static ThresholdCalibration Run(FaceRecognizer faces, CalibrationRequest request, Action<string>? note = null)
    {
        if (request.Goal is CalibrationGoal.Far or CalibrationGoal.Frr && request.Rate is <= 0 or >= 1)
            throw new ArgumentException("the target rate must lie between 0 and 1");
        if (request.PoseFrom is { Count: > 0 } && request.Goal != CalibrationGoal.KeepThreshold)
            throw new ArgumentException("--pose-from goes with --keep-threshold (the bands are set around the model's 1:1 threshold)");
        var pairs = request.Pairs is { } pairsPath ? PairsFile.Read(pairsPath, request.Root) : Calibration.PairsFromFolders(request.Root);
        var evaluator = new Evaluator(faces, EmbeddingCache.PipelineKey(faces.Model.Identity, faces.Detector.Name, false),
            new EvaluationOptions { CacheDirectory = request.CacheDirectory });
        var report = evaluator.Run(pairs);
        var info = faces.Model.Info;
        string detector = faces.Detector.Name, day = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        string? tailRoot = request.TailFrom ?? (request.Pairs is null ? request.Root : null);
        Matching.ImpostorTail? tail = null;
        if (tailRoot is not null)
        {
            try
            {
                tail = Calibration.TailFromFolders(evaluator, tailRoot, info.Metric, $"every different-person pair of {FolderName(tailRoot)} ({detector}, {day})");
            }
            catch (ArgumentException e) when (request.TailFrom is null)
            {
                // the tail was not asked for: a small folder calibrates the threshold all the same
                note?.Invoke($"no impostor tail from {tailRoot}: {e.Message}; the copy keeps the model's own tail, if any");
            }
        }
        Matching.PoseThresholds? bands = null;
        if (request.PoseFrom is { Count: > 0 } roots)
        {
            try
            {
                bands = Calibration.PoseThresholdsFromFolders(evaluator, roots, info.Metric, info.Threshold,
                    $"different-person pairs of {string.Join(" and ", roots.Select(FolderName))} by yaw difference, each band at the first band's FAR ({detector}, {day})");
            }
            catch (ArgumentException e) { throw new ArgumentException("--pose-from: " + e.Message, e); }
        }
        var genuine = report.Distances.Where((_, i) => report.Same[i]).ToArray();
        var impostor = report.Distances.Where((_, i) => !report.Same[i]).ToArray();
        var result = request.Goal switch
        {
            CalibrationGoal.KeepThreshold => Calibration.At(genuine, impostor, info.Threshold),
            CalibrationGoal.BestAccuracy => Calibration.AtBestAccuracy(genuine, impostor),
            CalibrationGoal.Frr => Calibration.AtFrr(genuine, impostor, request.Rate),
            _ => Calibration.AtFar(genuine, impostor, request.Rate),
        };
        string goal = request.Goal switch
        {
            CalibrationGoal.KeepThreshold => "the model's own threshold",
            CalibrationGoal.BestAccuracy => "the most accurate threshold",
            _ => $"{result.Target.ToUpperInvariant()} {request.Rate:G3}",
        };
        string calibrated = $"calibrated for {goal} on {result.GenuinePairs} same and {result.ImpostorPairs} different pairs ({FolderName(request.Pairs ?? request.Root)}, {detector}, {day})";
        return new ThresholdCalibration(request, result, goal, calibrated, tail, tailRoot, bands, report);
    }

    /// <summary>
    /// Writes a copy of the recognizer's model carrying the calibration (an .onnx file; a fused model's .json): the new
    /// threshold with its rates, or, when the model's own was kept, its threshold with the new tail and pose bands.
    /// </summary>
    public static void SaveModel(FaceRecognizer faces, ThresholdCalibration calibration, string path)
    {
        CheckModelPath(faces, path);
        var model = faces.Model;
        var (info, result) = (model.Info, calibration.Result);
        if (calibration.Request.Goal == CalibrationGoal.KeepThreshold)
            model.SaveWithThreshold(path, info.Threshold, info.ThresholdFar ?? result.Far, info.ThresholdFrr ?? result.Frr, info.Calibration,
                calibration.Tail, calibration.PoseThresholds);
        else
            model.SaveWithThreshold(path, Math.Round(result.Threshold, 6), result.Far, result.Frr, calibration.Note, calibration.Tail);
    }

    /// <summary>Refuses a path the model's copy cannot be written as (checked before the work: a fused model is a .json file, others .onnx).</summary>
    public static void CheckModelPath(FaceRecognizer faces, string path)
    {
        bool fused = faces.Model.IsFused;
        if (!Path.GetExtension(path).Equals(fused ? ".json" : ".onnx", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{path}: {(fused ? "a fused model is written as a .json file" : "a model is written as an .onnx file")}");
    }

    private static string FolderName(string path) => Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
}
