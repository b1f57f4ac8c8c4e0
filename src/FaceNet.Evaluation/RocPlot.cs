using SkiaSharp;

namespace FaceNet.Evaluation;

/// <summary>
/// Renders an evaluation as one PNG: the ROC curve (true-accept against false-accept rate, log scale)
/// and the histograms of same-person and different-person distances with the chosen threshold, drawn
/// with ScottPlot. Text uses the bundled DejaVu Sans, as the self-contained Skia build has no system fonts.
/// </summary>
public static class RocPlot
{
    private const string FontName = "DejaVu Sans";
    private static readonly object FontGate = new();
    private static bool _fontLoaded;

    public static void Save(EvaluationReport report, string path, string title)
    {
        LoadFont();
        var roc = report.Result.Roc.Where(p => p.Far > 0).ToArray();
        var rocPlot = new ScottPlot.Plot();
        rocPlot.Font.Set(FontName);
        if (roc.Length > 0)
        {
            var line = rocPlot.Add.Scatter(roc.Select(p => Math.Log10(p.Far)).ToArray(), roc.Select(p => p.Tar).ToArray());
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }
        var far = Math.Log10(Math.Max(report.Result.FarTarget, 1e-6));
        var v = rocPlot.Add.VerticalLine(far);
        v.LinePattern = ScottPlot.LinePattern.Dashed;
        v.LabelText = $"FAR {report.Result.FarTarget:G2}: VAL {report.Result.Val:F3}";
        double minLog = Math.Floor(Math.Min(far, roc.Length > 0 ? Math.Log10(roc[0].Far) : far)) - 0.2;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = (int)Math.Ceiling(minLog); e <= 0; e++) ticks.AddMajor(e, e == 0 ? "1" : $"1e{e}");
        rocPlot.Axes.Bottom.TickGenerator = ticks;
        rocPlot.Axes.SetLimitsX(minLog, 0.05);
        rocPlot.Title($"ROC — AUC {report.Result.Auc:F4}, EER {report.Result.Eer:F4}");
        rocPlot.XLabel("false accept rate (log)");
        rocPlot.YLabel("true accept rate");
        rocPlot.Axes.SetLimitsY(0, 1.02);

        var hist = new ScottPlot.Plot();
        hist.Font.Set(FontName);
        var finite = report.Distances.Where(double.IsFinite).ToArray();
        double lo = finite.Length > 0 ? finite.Min() : 0, hi = finite.Length > 0 ? finite.Max() : 1;
        if (hi <= lo) hi = lo + 1;
        AddHistogram(hist, report.Distances.Where((d, i) => report.Same[i] && double.IsFinite(d)), lo, hi, "same person", ScottPlot.Colors.Green);
        AddHistogram(hist, report.Distances.Where((d, i) => !report.Same[i] && double.IsFinite(d)), lo, hi, "different people", ScottPlot.Colors.Red);
        var t = hist.Add.VerticalLine(report.Result.Threshold);
        t.LabelText = $"threshold {report.Result.Threshold:F3}";
        hist.Title($"{Matching.Metrics.Name(report.Metric)} distances — accuracy {report.Result.Accuracy:F4} ± {report.Result.AccuracyStd:F4}");
        hist.XLabel("distance");
        hist.YLabel("share of pairs");
        hist.ShowLegend();

        const int w = 640, h = 440;
        using var surface = SKSurface.Create(new SKImageInfo(2 * w, h + 40));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using (var header = new SKPaint { Color = SKColors.Black, IsAntialias = true })
        using (var typeface = Font())
        using (var font = new SKFont(typeface, 16))
            canvas.DrawText(title, 12, 26, SKTextAlign.Left, font, header);
        using (var a = SKBitmap.Decode(rocPlot.GetImageBytes(w, h,
            ScottPlot.ImageFormat.Png))) { using var ia = SKImage.FromBitmap(a); canvas.DrawImage(ia, 0, 40, new SKSamplingOptions(SKFilterMode.Nearest)); }
        using (var b = SKBitmap.Decode(hist.GetImageBytes(w, h,
            ScottPlot.ImageFormat.Png))) { using var ib = SKImage.FromBitmap(b); canvas.DrawImage(ib, w, 40, new SKSamplingOptions(SKFilterMode.Nearest)); }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, data.AsSpan());
    }

    /// <summary>
    /// A training curve: the loss per epoch (left axis) and validation VAL@FAR (right axis), with the kept epoch marked.
    /// </summary>
    public static void SaveCurve(string path, string title, IReadOnlyList<(int Epoch, double Loss, double Val)> epochs, int bestEpoch,
        double baseVal, string valLabel)
    {
        LoadFont();
        var plot = new ScottPlot.Plot();
        plot.Font.Set(FontName);
        var x = epochs.Select(e => (double)e.Epoch).ToArray();
        var loss = plot.Add.Scatter(x, epochs.Select(e => e.Loss).ToArray());
        loss.LegendText = "training loss";
        loss.LineWidth = 2;
        var val = plot.Add.Scatter(x, epochs.Select(e => e.Val).ToArray());
        val.LegendText = $"validation {valLabel} (base {baseVal:F3})";
        val.LineWidth = 2;
        val.Axes.YAxis = plot.Axes.Right;
        var kept = plot.Add.VerticalLine(bestEpoch);
        kept.LinePattern = ScottPlot.LinePattern.Dashed;
        kept.LabelText = $"kept: epoch {bestEpoch}";
        plot.Title(title);
        plot.XLabel("epoch");
        plot.Axes.Left.Label.Text = "triplet loss";
        plot.Axes.Right.Label.Text = valLabel;
        plot.ShowLegend();
        AtomicFile.Write(path, plot.GetImageBytes(800, 480, ScottPlot.ImageFormat.Png));
    }

    /// <summary>
    /// A DET plot as NIST FRVT 1:N draws it: FNIR against FPIR, both on log axes, one curve per gallery size,
    /// with the point the product's own threshold rule reached.
    /// </summary>
    public static void SaveDet(string path, string title, IReadOnlyList<IdentificationResult> results)
    {
        LoadFont();
        var plot = new ScottPlot.Plot();
        plot.Font.Set(FontName);
        const double floor = 1e-4;
        static double L(double v) => Math.Log10(Math.Max(v, floor));
        foreach (var r in results)
        {
            var pts = r.Det.Where(p => p.Fpir > 0).OrderBy(p => p.Fpir).ToArray();
            if (pts.Length == 0) continue;
            var line = plot.Add.Scatter(pts.Select(p => L(p.Fpir)).ToArray(), pts.Select(p => L(p.Fnir)).ToArray());
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.LegendText = $"gallery {r.GallerySize:N0}";
            var rule = plot.Add.Marker(L(r.AtRule.Fpir), L(r.AtRule.Fnir));
            rule.Color = line.Color;
            rule.MarkerSize = 9;
        }
        var target = plot.Add.VerticalLine(-2);
        target.LinePattern = ScottPlot.LinePattern.Dashed;
        target.LabelText = "FPIR 1 %";
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = -4; e <= 0; e++) ticks.AddMajor(e, e == 0 ? "1" : $"1e{e}");
        plot.Axes.Bottom.TickGenerator = ticks;
        var yTicks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = -4; e <= 0; e++) yTicks.AddMajor(e, e == 0 ? "1" : $"1e{e}");
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.SetLimits(-4.1, 0.05, -3.1, 0.05);
        plot.Title(title);
        plot.XLabel("FPIR: share of strangers' searches that return a name (log)");
        plot.YLabel("FNIR: share of enrolled people's searches without their name (log)");
        plot.ShowLegend();
        AtomicFile.Write(path, plot.GetImageBytes(800, 560, ScottPlot.ImageFormat.Png));
    }

    /// <summary>
    /// A liveness DET plot as ISO/IEC 30107-3 draws it: BPCER against APCER, both on log axes (rates of 0 drawn at the
    /// axis floor), with the point of the threshold in use and the APCER 5 % and 1 % lines.
    /// </summary>
    public static void SaveLivenessDet(string path, string title, LivenessReport report)
    {
        LoadFont();
        var plot = new ScottPlot.Plot();
        plot.Font.Set(FontName);
        var rates = report.Curve.Where(r => r.Attacks > 0 && r.BonaFide > 0).ToList();
        // the axes reach the smallest rate the counts can show, and at least 1 % (the APCER 1 % line)
        double floor = Math.Min(0.01, Math.Pow(10, Math.Floor(Math.Log10(1.0 / Math.Max(2, Math.Max(rates.Select(r => r.Attacks).DefaultIfEmpty(1).Max(),
            rates.Select(r => r.BonaFide).DefaultIfEmpty(1).Max()))))));
        double L(double v) => Math.Log10(Math.Max(v, floor));
        if (rates.Count > 0)
        {
            var line = plot.Add.Scatter(rates.Select(r => L(r.Apcer)).ToArray(), rates.Select(r => L(r.Bpcer)).ToArray());
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            line.LegendText = $"{report.AtThreshold.Attacks} attacks, {report.AtThreshold.BonaFide} live faces";
        }
        var at = report.AtThreshold;
        if (at.Attacks > 0 && at.BonaFide > 0)
        {
            var m = plot.Add.Marker(L(at.Apcer), L(at.Bpcer));
            m.MarkerSize = 10;
            m.LegendText = $"threshold {at.Threshold:F3}: APCER {at.Apcer:P1}, BPCER {at.Bpcer:P1}";
        }
        foreach (var (rate, label) in new[] { (0.05, "APCER 5 %"), (0.01, "APCER 1 %") })
        {
            var v = plot.Add.VerticalLine(Math.Log10(rate));
            v.LinePattern = ScottPlot.LinePattern.Dashed;
            v.LabelText = label;
        }
        int lowest = (int)Math.Round(Math.Log10(floor));
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = lowest; e <= 0; e++) ticks.AddMajor(e, e == 0 ? "100 %" : $"{Math.Pow(10, e + 2):G3} %");
        plot.Axes.Bottom.TickGenerator = ticks;
        var yTicks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = lowest; e <= 0; e++) yTicks.AddMajor(e, e == 0 ? "100 %" : $"{Math.Pow(10, e + 2):G3} %");
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.SetLimits(lowest - 0.1, 0.05, lowest - 0.1, 0.05);
        plot.Title(title);
        plot.XLabel("APCER: attacks accepted as live (log)");
        plot.YLabel("BPCER: live faces refused (log)");
        plot.ShowLegend();
        AtomicFile.Write(path, plot.GetImageBytes(800, 560, ScottPlot.ImageFormat.Png));
    }

    private static void AddHistogram(ScottPlot.Plot plot, IEnumerable<double> values, double lo, double hi, string label, ScottPlot.Color color)
    {
        var v = values.ToArray();
        if (v.Length == 0) return;
        const int bins = 40;
        double width = (hi - lo) / bins;
        var counts = new double[bins];
        foreach (var x in v) counts[Math.Clamp((int)((x - lo) / width), 0, bins - 1)]++;
        var bars = counts.Select((c, i) => new ScottPlot.Bar { Position = lo + (i + 0.5) * width, Value = c / v.Length, Size = width,
            FillColor = color.WithAlpha(0.45), LineWidth = 0 }).ToList();
        var plotted = plot.Add.Bars(bars);
        plotted.LegendText = $"{label} ({v.Length})";
        plotted.Color = color.WithAlpha(0.45);
    }

    /// <summary>DejaVu Sans, carried inside this assembly (Bitstream Vera licence, assets/fonts/LICENSE).</summary>
    private static SKTypeface Font()
    {
        using var stream = typeof(RocPlot).Assembly.GetManifestResourceStream("FaceNet.Evaluation.DejaVuSans.ttf")
            ?? throw new InvalidOperationException("the DejaVu Sans font resource is missing from the assembly");
        return SKTypeface.FromStream(stream);
    }

    private static void LoadFont()
    {
        lock (FontGate)
        {
            if (_fontLoaded) return;
            ScottPlot.Fonts.FontResolvers.Insert(0, new EmbeddedFont());
            _fontLoaded = true;
        }
    }

    /// <summary>Gives ScottPlot the embedded font for <see cref="FontName"/>.</summary>
    private sealed class EmbeddedFont : ScottPlot.IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) => fontName == FontName ? Font() : null;

        public SKTypeface? CreateTypeface(string fontName, ScottPlot.FontWeight weight, ScottPlot.FontSlant slant,
            ScottPlot.FontSpacing width) => fontName == FontName ? Font() : null;
    }
}
