namespace FaceNet.Gallery;

/// <summary>How a subject's faces make one distance: the nearest face, or the mean over the subject's faces.</summary>
public enum Aggregation { Min, Mean }

public sealed record Candidate(string Name, double Distance);

/// <summary>An open-set answer: the best subject if within the threshold, else unknown; and the runners-up.</summary>
public sealed record Identification(string? Name, bool Known, double Distance, double Threshold, IReadOnlyList<Candidate> Candidates);

/// <summary>
/// A gallery of enrolled people: the SQLite store plus an in-memory search index over all their faces.
/// Open-set identification answers with the nearest subject when its distance is within the threshold,
/// and "unknown" otherwise. Concurrent readers are safe; writes go through one lock.
/// </summary>
public sealed class FaceGallery : IDisposable
{
    private readonly GalleryStore _store;
    private FaceIndex _index;
    private long[] _subjectOfRow = [];
    private Dictionary<long, string> _names = new();
    private Dictionary<long, List<int>> _rowsOfSubject = new();
    private readonly FaceIndexOptions? _indexOptions;
    private readonly object _gate = new();

    private FaceGallery(GalleryStore store, FaceIndexOptions? indexOptions)
    {
        _store = store;
        _indexOptions = indexOptions;
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, indexOptions);
        Reload();
    }

    public GalleryStore Store => _store;
    public GalleryModel Model => _store.Model;
    public int FaceCount => _index.Count;

    public static FaceGallery Open(string path, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null)
        => new(GalleryStore.Open(path, model, readOnly), indexOptions);

    public static Task<FaceGallery> OpenAsync(string path, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null, CancellationToken ct = default)
        => Task.Run(() => Open(path, model, readOnly, indexOptions), ct);

    /// <summary>Where the HNSW graph of a large gallery is kept between runs, next to the gallery file.</summary>
    public string GraphPath => _store.Path + ".hnsw";

    /// <summary>True when the last reload took the saved HNSW graph instead of building it.</summary>
    public bool GraphLoadedFromDisk { get; private set; }

    /// <summary>
    /// Re-reads every face from the store (one consistent snapshot) and rebuilds the index. A large
    /// gallery's HNSW graph is read back from <see cref="GraphPath"/> when it matches the faces, else
    /// built and saved there, so a command-line run does not rebuild it each time.
    /// </summary>
    public void Reload()
    {
        var faces = _store.Faces();
        var names = _store.Subjects().ToDictionary(s => s.Id, s => s.Name);
        var options = (_indexOptions ?? new FaceIndexOptions()) with { BuildOnAdd = false };
        var index = new FaceIndex(_store.Model.EmbeddingSize, _store.Model.Metric, options);
        index.Add(faces.Select(f => f.Embedding).ToList());
        GraphLoadedFromDisk = false;
        if (index.Count >= options.ApproximateFrom)
        {
            // the saved graph must be of these faces, in this order: its stamp is the count and the last face id
            var stamp = GraphPath + ".stamp";
            var expected = $"{faces.Count}:{(faces.Count > 0 ? faces[^1].Id : 0)}:{_store.Model.Id}";
            if (File.Exists(stamp) && File.ReadAllText(stamp) == expected && index.LoadGraph(GraphPath)) GraphLoadedFromDisk = true;
            else
            {
                index.BuildGraph();
                try
                {
                    index.SaveGraph(GraphPath);
                    File.WriteAllText(stamp, expected);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a read-only place: rebuild next time
            }
        }
        lock (_gate)
        {
            var old = _index;
            _index = index;
            _subjectOfRow = faces.Select(f => f.SubjectId).ToArray();
            _names = names;
            _rowsOfSubject = faces.Select((f, i) => (f.SubjectId, i)).GroupBy(p => p.SubjectId).ToDictionary(g => g.Key, g => g.Select(p => p.i).ToList());
            old.Dispose();
        }
    }

    /// <summary>Stores the faces (one transaction), then adds them to the live index without a rebuild.</summary>
    public IReadOnlyList<long> Enroll(string name, IReadOnlyList<NewFace> faces, string? metadata = null)
    {
        var ids = _store.Enroll(name, faces, metadata);
        var subject = _store.Subjects().First(s => s.Name == name).Id;
        lock (_gate)
        {
            int first = _index.Add(faces.Select(f => f.Embedding).ToList());
            var rows = _subjectOfRow.ToList();
            var bySubject = _rowsOfSubject.ToDictionary(p => p.Key, p => p.Value.ToList());
            if (!bySubject.TryGetValue(subject, out var list)) bySubject[subject] = list = new List<int>();
            for (int i = 0; i < faces.Count; i++) { rows.Add(subject); list.Add(first + i); }
            _subjectOfRow = rows.ToArray();
            _rowsOfSubject = bySubject;
            _names = new Dictionary<long, string>(_names) { [subject] = name };
        }
        return ids;
    }

    public Task<IReadOnlyList<long>> EnrollAsync(string name, IReadOnlyList<NewFace> faces, string? metadata = null, CancellationToken ct = default)
        => Task.Run(() => Enroll(name, faces, metadata), ct);

    public bool Remove(string name)
    {
        bool removed = _store.Remove(name);
        if (removed) Reload();
        return removed;
    }

    public bool Rename(string oldName, string newName)
    {
        bool renamed = _store.Rename(oldName, newName);
        if (renamed) Reload();
        return renamed;
    }

    /// <summary>The best <paramref name="top"/> subjects for an embedding, and the open-set verdict.</summary>
    public Identification Identify(float[] embedding, double threshold, int top = 1, Aggregation aggregation = Aggregation.Min)
    {
        FaceIndex index; long[] rows; Dictionary<long, string> names; Dictionary<long, List<int>> bySubject;
        lock (_gate) { index = _index; rows = _subjectOfRow; names = _names; bySubject = _rowsOfSubject; }
        if (index.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
        // Nearest faces first, then per subject; enough faces to be sure of the top subjects.
        var near = index.Search(embedding, Math.Min(index.Count, Math.Max(32, top * 8)));
        // faces added after this snapshot was taken are not part of this answer
        var subjects = near.Where(n => n.Index < rows.Length).GroupBy(n => rows[n.Index]).Select(g =>
        {
            double d = aggregation == Aggregation.Min ? g.Min(n => n.Distance)
                : bySubject[g.Key].Where(i => i < rows.Length).Average(i => (double)index.DistanceTo(embedding, i));
            return new Candidate(names.GetValueOrDefault(g.Key, "?"), d);
        }).OrderBy(c => c.Distance).Take(Math.Max(1, top)).ToList();
        if (subjects.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
        var best = subjects[0];
        bool known = best.Distance <= threshold;
        return new Identification(known ? best.Name : null, known, best.Distance, threshold, subjects);
    }

    public Task<Identification> IdentifyAsync(float[] embedding, double threshold, int top = 1, Aggregation aggregation = Aggregation.Min, CancellationToken ct = default)
        => Task.Run(() => Identify(embedding, threshold, top, aggregation), ct);

    public void Dispose()
    {
        _index.Dispose();
        _store.Dispose();
    }
}
