using FaceNet.Matching;

namespace FaceNet.Gallery;

/// <summary>
/// The searches a <see cref="FaceGallery"/> and a shard of a cluster both make over faces held in memory
/// (an index, the subject of each row — −1 once erased —, the rows of each subject, the names), written
/// once so that the two give the same answers.
/// </summary>
internal static class SubjectSearch
{
    /// <summary>
    /// The best <paramref name="top"/> subjects for an embedding: enough of the nearest faces to be sure of
    /// them, then each subject at its nearest face (or its mean), ties (copies of one photo) by id.
    /// <paramref name="left"/> (−1: none) is a subject left out. The index must hold a face.
    /// </summary>
    /// <para>
    /// With <paramref name="offsetOfRow"/> (each face's pose-band offset, see <see cref="Offsets"/>) a subject is ranked by its
    /// distance minus its offset — that is, by how far inside its own threshold it lies —, under min aggregation at the face
    /// where that is smallest, under mean aggregation by the mean distance less the mean offset. The nearest faces are
    /// taken by distance first (at least 32), so a face whose offset would lift it past nearer ones by more than the
    /// distance between them can be missed: the bundled bands' offsets are under 0.01.
    /// </para>
    public static List<Candidate> Best(FaceIndex index, List<long> subjectOfRow, Dictionary<long, List<int>> rowsOfSubject, Dictionary<long, string> names,
        float[] embedding, int top, Aggregation aggregation, long left, Func<int, double>? offsetOfRow = null)
    {
        int own = left >= 0 ? rowsOfSubject.GetValueOrDefault(left)?.Count ?? 0 : 0;
        var near = index.Search(embedding, Math.Min(index.Count, Math.Max(32, top * 8) + own));
        double Off(int row) => offsetOfRow?.Invoke(row) ?? 0;
        return near.Where(n => subjectOfRow[n.Index] >= 0 && subjectOfRow[n.Index] != left).GroupBy(n => subjectOfRow[n.Index]).Select(g =>
        {
            double d, offset;
            if (aggregation == Aggregation.Min)
            {
                var b = g.MinBy(n => n.Distance - Off(n.Index));
                (d, offset) = (b.Distance, Off(b.Index));
            }
            else
            {
                var rows = rowsOfSubject[g.Key];
                (d, offset) = (index.MeanDistance(embedding, rows), offsetOfRow is null ? 0 : rows.Average(Off));
            }
            return new Candidate(names[g.Key], d) { SubjectId = g.Key, Offset = offset };
        }).OrderBy(c => c.Distance - c.Offset).ThenBy(c => c.SubjectId).Take(Math.Max(1, top)).ToList();
    }

    /// <summary>
    /// Each stored face's band offset for a search by a face turned <paramref name="yaw"/> degrees: <paramref name="bands"/>'
    /// offset for ||yaw| − |the face's yaw|| (NaN, a face stored before galleries kept poses, counts as 0°: frontal). Null
    /// without bands or without the searching face's yaw (every candidate in the first band, offset 0).
    /// </summary>
    public static Func<int, double>? Offsets(Matching.PoseThresholds? bands, double? yaw, IReadOnlyList<float> yawOfRow)
    {
        if (bands is null || yaw is not { } y || !double.IsFinite(y)) return null;
        return row =>
        {
            float stored = row < yawOfRow.Count ? yawOfRow[row] : float.NaN;
            return bands.Offset(Math.Abs(Math.Abs(y) - (float.IsNaN(stored) ? 0 : Math.Abs(stored))));
        };
    }

    /// <summary>The open-set verdict on ranked candidates: each held to <paramref name="threshold"/> plus its offset; the best named when inside its own.</summary>
    public static Identification Answer(IReadOnlyList<Candidate> ranked, double threshold)
    {
        if (ranked.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
        var candidates = ranked.Select(c => c with { Threshold = threshold + c.Offset }).ToList();
        var best = candidates[0];
        bool known = best.Distance <= best.Threshold;
        return new Identification(known ? best.Name : null, known, best.Distance, best.Threshold, candidates);
    }

    /// <summary>How near a face of subject <paramref name="own"/> (who has <paramref name="ownRows"/> faces here) comes to any other subject's face.</summary>
    public static double NearestOther(FaceIndex index, List<long> subjectOfRow, float[] vector, long own, int ownRows)
    {
        if (index.Count == 0) return double.PositiveInfinity;
        var near = index.Search(vector, Math.Min(index.Count, ownRows + 8));
        return near.Where(x => subjectOfRow[x.Index] >= 0 && subjectOfRow[x.Index] != own).Select(x => (double)x.Distance)
            .DefaultIfEmpty(double.PositiveInfinity).Min();
    }

    /// <summary>
    /// The subjects whose nearness to the others samples the gallery's own people for the open-set rule: all of them
    /// up to <see cref="OpenSetThreshold.GallerySampleSize"/>, else a fixed draw from the ids in ascending order.
    /// </summary>
    public static List<T> Sample<T>(IReadOnlyList<T> subjectsByIdAscending)
    {
        if (subjectsByIdAscending.Count <= OpenSetThreshold.GallerySampleSize) return [.. subjectsByIdAscending];
        var rng = new Random(20261201);
        return [.. subjectsByIdAscending.OrderBy(_ => rng.Next()).Take(OpenSetThreshold.GallerySampleSize)];
    }
}
