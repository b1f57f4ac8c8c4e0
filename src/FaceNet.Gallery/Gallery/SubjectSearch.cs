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
    public static List<Candidate> Best(FaceIndex index, List<long> subjectOfRow, Dictionary<long, List<int>> rowsOfSubject, Dictionary<long, string> names,
        float[] embedding, int top, Aggregation aggregation, long left)
    {
        int own = left >= 0 ? rowsOfSubject.GetValueOrDefault(left)?.Count ?? 0 : 0;
        var near = index.Search(embedding, Math.Min(index.Count, Math.Max(32, top * 8) + own));
        return near.Where(n => subjectOfRow[n.Index] >= 0 && subjectOfRow[n.Index] != left).GroupBy(n => subjectOfRow[n.Index]).Select(g =>
        {
            double d = aggregation == Aggregation.Min ? g.Min(n => n.Distance) : index.MeanDistance(embedding, rowsOfSubject[g.Key]);
            return new Candidate(names[g.Key], d) { SubjectId = g.Key };
        }).OrderBy(c => c.Distance).ThenBy(c => c.SubjectId).Take(Math.Max(1, top)).ToList();
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
