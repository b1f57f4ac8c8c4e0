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

    /// <summary>An identification evaluation as a Markdown report: the command and the table per gallery size.</summary>
    public static string RenderIdentification(IReadOnlyList<IdentificationResult> results, string title, string command, string? plotPath)
    {
        var sb = new StringBuilder();
        string P(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
        sb.AppendLine($"# Identification: {title}").AppendLine();
        sb.AppendLine($"Made on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by:").AppendLine();
        sb.AppendLine("```").AppendLine(command).AppendLine("```").AppendLine();
        sb.AppendLine("| gallery | mated / non-mated searches | rank-1 | rank-5 | FNIR @ FPIR 1 % | FNIR @ FPIR 0.1 % | the product's rule: threshold | FPIR | FNIR |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            sb.AppendLine($"| {r.GallerySize:N0} | {r.MatedSearches:N0} / {r.NonMatedSearches:N0} | {P(r.Rank1)} | {P(r.Rank5)} | {P(r.AtFpir1.Fnir)} | {P(r.AtFpir01.Fnir)} | {P(r.AtRule.Threshold)} ({r.Rule.Describe()}) | {P(r.AtRule.Fpir)} | {P(r.AtRule.Fnir)} |");
        sb.AppendLine();
        if (plotPath is not null) sb.AppendLine($"![DET]({Path.GetFileName(plotPath)})").AppendLine();
        sb.AppendLine("Protocol (NIST FRVT 1:N): each enrolled person's first photo is their gallery face, their other photos are mated searches; "
            + "people left out of the gallery search it too (non-mated, several draws of the gallery when few people are left out). "
            + "FNIR: mated searches whose answer is not the person's own name; FPIR: non-mated searches that get a name. "
            + "The FPIR 1 % and 0.1 % columns choose the threshold afterwards on these strangers; the rule's columns use the threshold "
            + "the product chooses without seeing them (target FPIR, the gallery's size, the model's impostor tail).");
        return sb.ToString();
    }
}
