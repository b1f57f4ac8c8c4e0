using FaceNet.Matching;

namespace FaceNet.Gallery;

/// <summary>
/// The searches a <see cref="FaceGallery"/> and a shard of a cluster both make over faces held in memory
/// (an index, the subject of each row — −1 once erased —, the rows of each subject, the names), written
/// once so that the two give the same answers.
/// <para>
/// A compact index (<see cref="FaceIndex.IsExact"/> false: int8 codes in an HNSW graph, no float vectors in memory)
/// only ranks: the best subjects by their codes are re-ranked from the float vectors in the store
/// (<see cref="IGalleryStore.FacesOf"/>, one query for all of them), so every distance an answer gives, and so the
/// verdict under the open-set threshold, is the exact one.
/// </para>
/// </summary>
internal static class SubjectSearch
{
    /// <summary>Subjects re-ranked from the store for an answer of <paramref name="top"/> candidates: enough that the codes' small errors never reorder them out.</summary>
    /// Under mean aggregation every subject found near is re-ranked: its mean may be small though its nearest face is not among the first.
    public static int RerankCount(int top, Aggregation aggregation = Aggregation.Min) => aggregation == Aggregation.Mean ? int.MaxValue : Math.Max(16, top * 4);

    /// <summary>
    /// The best <paramref name="top"/> subjects for an embedding: enough of the nearest faces to be sure of
    /// them, then each subject at its nearest face (or its mean), ties (copies of one photo) by id.
    /// <paramref name="left"/> (−1: none) is a subject left out. The index must hold a face. A compact index's
    /// candidates are re-ranked from <paramref name="store"/>; without one (a shard, whose caller re-ranks the merged
    /// list), the best <see cref="RerankCount"/> subjects are returned at their codes' distances.
    /// <para>
    /// With <paramref name="offsetOf"/> (the pose-band offset of a stored face by its yaw, see <see cref="Offsets"/>) a subject
    /// is ranked by its distance minus its offset — how far inside its own threshold it lies —, under min aggregation at the
    /// face where that is smallest, under mean aggregation by the mean distance less the mean offset. The nearest faces are
    /// taken by distance first (at least 32), so a face whose offset would lift it past nearer ones by more than the
    /// distance between them can be missed: the bundled bands' offsets are under 0.01.
    /// </para>
    /// </summary>
    public static List<Candidate> Best(FaceIndex index, List<long> subjectOfRow, Dictionary<long, List<int>> rowsOfSubject, Dictionary<long, string> names,
        float[] embedding, int top, Aggregation aggregation, long left, IGalleryStore? store, IReadOnlyList<float> yawOfRow, Func<float, double>? offsetOf)
    {
        int own = left >= 0 ? rowsOfSubject.GetValueOrDefault(left)?.Count ?? 0 : 0;
        var near = index.Search(embedding, Math.Min(index.Count, Math.Max(32, top * 8) + own));
        double Off(int row) => offsetOf is null ? 0 : offsetOf(row < yawOfRow.Count ? yawOfRow[row] : float.NaN);
        var groups = near.Where(n => subjectOfRow[n.Index] >= 0 && subjectOfRow[n.Index] != left && names.ContainsKey(subjectOfRow[n.Index]))
            .GroupBy(n => subjectOfRow[n.Index]);
        if (!index.IsExact)
        {
            var approximate = groups.Select(g =>
            {
                var b = g.MinBy(n => n.Distance - Off(n.Index));
                return new Candidate(names[g.Key], b.Distance) { SubjectId = g.Key, Offset = Off(b.Index) };
            }).OrderBy(c => c.Distance - c.Offset).ThenBy(c => c.SubjectId).Take(RerankCount(top, aggregation)).ToList();
            return store is null ? approximate : Rerank(store, store.Model.Metric, embedding, approximate, top, aggregation, offsetOf);
        }
        return groups.Select(g =>
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
                (d, offset) = (index.MeanDistance(embedding, rows), offsetOf is null ? 0 : rows.Average(Off));
            }
            return new Candidate(names[g.Key], d) { SubjectId = g.Key, Offset = offset };
        }).OrderBy(c => c.Distance - c.Offset).ThenBy(c => c.SubjectId).Take(Math.Max(1, top)).ToList();
    }

    /// <summary>
    /// A stored face's band offset, by its yaw, for a search by a face turned <paramref name="yaw"/> degrees: <paramref name="bands"/>'
    /// offset for ||yaw| − |the face's yaw|| (NaN, a face stored before galleries kept poses, counts as 0°: frontal). Null
    /// without bands or without the searching face's yaw (every candidate in the first band, offset 0).
    /// </summary>
    public static Func<float, double>? Offsets(PoseThresholds? bands, double? yaw)
    {
        if (bands is null || yaw is not { } y || !double.IsFinite(y)) return null;
        return stored => bands.Offset(Math.Abs(Math.Abs(y) - (float.IsNaN(stored) ? 0 : Math.Abs(stored))));
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

    /// <summary>
    /// Candidates found by their codes, each given its exact distance from its faces' float vectors as the store holds them
    /// now (the nearest less its offset, or the mean), ranked as <see cref="Best"/> ranks; the best <paramref name="top"/>,
    /// ties by id. A subject erased meanwhile has no faces and drops out.
    /// </summary>
    public static List<Candidate> Rerank(IGalleryStore store, Metric metric, float[] embedding, IReadOnlyList<Candidate> candidates, int top,
        Aggregation aggregation, Func<float, double>? offsetOf)
    {
        if (candidates.Count == 0) return [];
        double Off(float yaw) => offsetOf?.Invoke(yaw) ?? 0;
        var faces = store.FacesOf([.. candidates.Select(c => c.SubjectId!.Value).Distinct()]).ToLookup(f => f.SubjectId);
        return candidates.Where(c => faces[c.SubjectId!.Value].Any()).Select(c =>
        {
            var scored = faces[c.SubjectId!.Value].Select(f => (D: (double)FaceIndex.Distance(metric, embedding, f.Embedding), Off: Off(f.Yaw))).ToList();
            if (aggregation == Aggregation.Min)
            {
                var b = scored.MinBy(x => x.D - x.Off);
                return c with { Distance = b.D, Offset = b.Off };
            }
            return c with { Distance = scored.Average(x => x.D), Offset = offsetOf is null ? 0 : scored.Average(x => x.Off) };
        }).OrderBy(c => c.Distance - c.Offset).ThenBy(c => c.SubjectId).Take(Math.Max(1, top)).ToList();
    }

    /// <summary>How near a face of subject <paramref name="own"/> (who has <paramref name="ownRows"/> faces here) comes to any other subject's face.</summary>
    public static double NearestOther(FaceIndex index, List<long> subjectOfRow, float[] vector, long own, int ownRows, IGalleryStore? store)
        => NearestOthers(index, subjectOfRow, [vector], [own], [ownRows], store)[0];

    /// <summary>
    /// <see cref="NearestOther"/> for several faces at once: a compact index's candidates (the four nearest other subjects
    /// by their codes, each) are re-ranked from the store in one query for all of them.
    /// </summary>
    public static double[] NearestOthers(FaceIndex index, List<long> subjectOfRow, IReadOnlyList<float[]> vectors, IReadOnlyList<long> owners,
        IReadOnlyList<int> ownRows, IGalleryStore? store)
    {
        var result = new double[vectors.Count];
        Array.Fill(result, double.PositiveInfinity);
        if (index.Count == 0) return result;
        var others = new List<long>[vectors.Count];
        Parallel.For(0, vectors.Count, i =>
        {
            var near = index.Search(vectors[i], Math.Min(index.Count, ownRows[i] + 8)).Where(x => subjectOfRow[x.Index] >= 0 && subjectOfRow[x.Index] != owners[i]);
            if (index.IsExact || store is null)
            {
                result[i] = near.Select(x => (double)x.Distance).DefaultIfEmpty(double.PositiveInfinity).Min();
                return;
            }
            others[i] = [.. near.GroupBy(x => subjectOfRow[x.Index]).Select(g => (Subject: g.Key, D: g.Min(x => x.Distance))).OrderBy(x => x.D).Take(4).Select(x => x.Subject)];
        });
        if (index.IsExact || store is null) return result;
        var faces = store.FacesOf([.. others.Where(o => o is not null).SelectMany(o => o).Distinct()]).ToLookup(f => f.SubjectId);
        for (int i = 0; i < vectors.Count; i++)
            foreach (var s in others[i] ?? [])
                foreach (var f in faces[s])
                    result[i] = Math.Min(result[i], index.Distance(vectors[i], f.Embedding));
        return result;
    }

    /// <summary>The first face (lowest id) of each subject, from memory when the index holds the vectors, else from the store.</summary>
    public static float[][] FirstFaces(FaceIndex index, Dictionary<long, List<int>> rowsOfSubject, IReadOnlyList<long> subjects, IGalleryStore store)
    {
        if (index.HasVectors) return [.. subjects.Select(s => index.Vector(rowsOfSubject[s][0]))];
        var first = new Dictionary<long, float[]>();
        foreach (var f in store.FacesOf([.. subjects])) first.TryAdd(f.SubjectId, f.Embedding);
        return [.. subjects.Select(s => first.TryGetValue(s, out var v) ? v : new float[index.Dimensions])];
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
