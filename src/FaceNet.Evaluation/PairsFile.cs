using System.Globalization;

namespace FaceNet.Evaluation;

/// <summary>
/// Reads labelled pairs: LFW's <c>pairs.txt</c> (header <c>folds n</c>, then per fold n same
/// <c>name i j</c> and n different <c>n1 i n2 j</c> lines; images at <c>ROOT/name/name_%04d.jpg</c>),
/// LFW's View 1 files (<c>pairsDevTrain.txt</c>, <c>pairsDevTest.txt</c>: a bare count <c>n</c>, then n
/// same and n different lines: one fold), or a CSV <c>file_x,file_y,same</c> (same =
/// 1/0/yes/no/true/false; an optional header row; extra columns ignored; paths relative to ROOT).
/// Files without folds of their own (CSV, View 1) get deterministic folds: the k-th same pair and the
/// k-th different pair go to fold k mod <c>folds</c>, so each fold holds both kinds.
/// </summary>
public static class PairsFile
{
    public static List<LabeledPair> Read(string path, string root, int folds = 10, bool checkFiles = true)
    {
        string[] lines;
        try { lines = System.IO.File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PairsFileException(path, 0, e is FileNotFoundException ? "file not found" : e.Message);
        }
        int first = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (first < 0) throw new PairsFileException(path, 0, "empty pairs file");
        var pairs = lines[first].Contains(',') ? ReadCsv(path, lines, first, root) : ReadLfw(path, lines, first, root);
        if (pairs.Select(p => p.Fold).Distinct().Count() == 1) pairs = Balanced(pairs, folds);
        if (pairs.Count == 0) throw new PairsFileException(path, 0, "no pairs");
        if (checkFiles)
            foreach (var p in pairs)
                foreach (var f in new[] { p.FileA, p.FileB })
                    if (!System.IO.File.Exists(f)) throw new PairsFileException(path, p.Line, $"image not found: {f}");
        return pairs;
    }

    private static List<LabeledPair> ReadLfw(string path, string[] lines, int first, string root)
    {
        var header = lines[first].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        int folds = 1, perFold = 0;
        bool ok = header.Length switch
        {
            1 => int.TryParse(header[0], NumberStyles.None, CultureInfo.InvariantCulture, out perFold), // View 1: one fold of n + n
            2 => int.TryParse(header[0], NumberStyles.None, CultureInfo.InvariantCulture, out folds) && int.TryParse(header[1],
                NumberStyles.None, CultureInfo.InvariantCulture, out perFold),
            _ => false,
        };
        if (!ok || folds < 1 || perFold < 1)
            throw new PairsFileException(path, first + 1,
                $"bad header '{lines[first].Trim()}': expected 'folds pairs-per-fold' such as '10 300', a pair count such as '1100' (LFW View 1), or a CSV header");
        var pairs = new List<LabeledPair>();
        int index = 0;
        for (int i = first + 1; i < lines.Length; i++)
        {
            var t = lines[i].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (t.Length == 0) continue;
            int fold = index / (2 * perFold);
            bool expectSame = index % (2 * perFold) < perFold;
            if (fold >= folds) throw new PairsFileException(path, i + 1, $"more pairs than the header's {folds}×{2 * perFold}");
            if (t.Length == 3 && expectSame)
                pairs.Add(new LabeledPair(Lfw(root, t[0], Num(path, i, t[1])), Lfw(root, t[0], Num(path, i, t[2])), true, fold, i + 1));
            else if (t.Length == 4 && !expectSame)
                pairs.Add(new LabeledPair(Lfw(root, t[0], Num(path, i, t[1])), Lfw(root, t[2], Num(path, i, t[3])), false, fold, i + 1));
            else
                throw new PairsFileException(path, i + 1, expectSame
                    ? $"expected a same pair 'name i j' (3 columns), got {t.Length} column(s)"
                    : $"expected a different pair 'name1 i name2 j' (4 columns), got {t.Length} column(s)");
            index++;
        }
        if (index != folds * 2 * perFold)
            throw new PairsFileException(path, lines.Length, $"{index} pairs, but the header announces {folds}×{2 * perFold} = {folds * 2 * perFold}");
        return pairs;
    }

    private static int Num(string path, int line, string s)
        => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 0 ? n
            : throw new PairsFileException(path, line + 1, $"'{s}' is not an image number");

    private static string Lfw(string root, string name, int n) => Path.Combine(root, name, $"{name}_{n:0000}.jpg");

    /// <summary>Spreads one-fold pairs over <paramref name="folds"/> folds, same and different pairs each in turn.</summary>
    private static List<LabeledPair> Balanced(List<LabeledPair> pairs, int folds)
    {
        int same = 0, different = 0;
        return pairs.Select(p => p with { Fold = (p.Same ? same++ : different++) % folds }).ToList();
    }

    private static List<LabeledPair> ReadCsv(string path, string[] lines, int first, string root)
    {
        int start = first;
        var head = lines[first].Split(',').Select(c => c.Trim()).ToArray();
        // A header row: its label column is no label, or its file columns are names, not files (file_x,file_y,same).
        if (head.Length >= 3 && (ParseSame(head[2]) is null || !Path.HasExtension(head[0]) || !Path.HasExtension(head[1]))) start = first + 1;
        var pairs = new List<LabeledPair>();
        for (int i = start; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            var t = lines[i].Split(',');
            if (t.Length < 3) throw new PairsFileException(path, i + 1, $"expected 'file_x,file_y,same', got {t.Length} column(s)");
            var label = ParseSame(t[2].Trim()) ?? throw new PairsFileException(path, i + 1,
                $"'{t[2].Trim()}' is not a same/different label (1/0, yes/no, true/false)");
            string a = t[0].Trim(), b = t[1].Trim();
            if (a.Length == 0 || b.Length == 0) throw new PairsFileException(path, i + 1, "empty file name");
            pairs.Add(new LabeledPair(Path.Combine(root, a), Path.Combine(root, b), label, 0, i + 1));
        }
        return pairs;
    }

    private static bool? ParseSame(string s) => s.ToLowerInvariant() switch
    {
        "1" or "yes" or "true" or "same" => true,
        "0" or "no" or "false" or "different" => false,
        _ => null,
    };
}
