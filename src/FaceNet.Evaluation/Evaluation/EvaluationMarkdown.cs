using System.Globalization;
using System.Text;

namespace FaceNet.Evaluation;

/// <summary>An evaluation as a Markdown report: the command, the figures, the failures.</summary>
public static class EvaluationMarkdown
{
    public static string Render(EvaluationReport report, string title, string command, double modelThreshold, double accuracyAtModelThreshold, string? plotPath)
    {
        var r = report.Result;
        var sb = new StringBuilder();
        string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
        sb.AppendLine($"# Evaluation: {title}").AppendLine();
        sb.AppendLine($"Made on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by:").AppendLine();
        sb.AppendLine("```").AppendLine(command).AppendLine("```").AppendLine();
        sb.AppendLine("| figure | value |").AppendLine("|---|---|");
        sb.AppendLine($"| pairs | {r.Pairs} ({report.Same.Count(s => s)} same), {r.Folds} folds, {report.Images} images |");
        sb.AppendLine($"| accuracy (threshold chosen on the other folds) | {F(r.Accuracy)} ± {F(r.AccuracyStd)} |");
        sb.AppendLine($"| VAL @ FAR={r.FarTarget.ToString("G3", CultureInfo.InvariantCulture)} | {F(r.Val)} ± {F(r.ValStd)} (FAR reached {r.Far.ToString("0.00000", CultureInfo.InvariantCulture)}) |");
        sb.AppendLine($"| AUC | {F(r.Auc)} |");
        sb.AppendLine($"| EER | {F(r.Eer)} |");
        sb.AppendLine($"| best threshold on all pairs ({Matching.Metrics.Name(report.Metric)}) | {F(r.Threshold)} |");
        sb.AppendLine($"| accuracy at the model's threshold {F(modelThreshold)} | {F(accuracyAtModelThreshold)} |");
        sb.AppendLine($"| fold thresholds | {string.Join(", ", r.FoldThresholds.Select(F))} |");
        sb.AppendLine($"| images without a face / unreadable | {report.FacelessImages} / {report.UnreadableImages} ({report.FailedPairs} pairs counted as non-matches{(report.CenterCropped > 0 ? $"; {report.CenterCropped} centre-cropped" : "")}) |");
        sb.AppendLine($"| time | {report.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s |").AppendLine();
        if (plotPath is not null) sb.AppendLine($"![ROC and distance histograms]({Path.GetFileName(plotPath)})").AppendLine();
        if (report.Failures.Count > 0)
        {
            sb.AppendLine("## Failures").AppendLine();
            foreach (var f in report.Failures.Take(100)) sb.AppendLine($"- {f}");
            if (report.Failures.Count > 100) sb.AppendLine($"- … and {report.Failures.Count - 100} more");
            sb.AppendLine();
        }
        sb.AppendLine("Protocol: for each fold, the accuracy-maximising threshold is chosen on the other folds and applied to it; "
            + "VAL@FAR uses the threshold interpolated on the training folds; AUC and EER are over all pairs. A pair whose image "
            + "has no detectable face counts as a non-match (infinite distance).");
        return sb.ToString();
    }
}
