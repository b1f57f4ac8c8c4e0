namespace FaceNet.Gallery;

/// <summary>How a subject's faces make one distance: the nearest face, or the mean over the subject's faces.</summary>
public enum Aggregation { Min, Mean }

public sealed record Candidate(string Name, double Distance);

/// <summary>An open-set answer: the best subject if within the threshold, else unknown; and the runners-up.</summary>
public sealed record Identification(string? Name, bool Known, double Distance, double Threshold, IReadOnlyList<Candidate> Candidates);

/// <summary>
/// A gallery of enrolled people: the SQLite store plus an in-memory search index over all their faces.
/// Open-set identification answers with the nearest subject when its distance is within the threshold,
/// and "unknown" otherwise.
/// <para>
/// Safe to share between threads: identifications run concurrently under a read lock over the
/// in-memory state; enrol, remove and rename run one at a time, each committing to the store and then
/// changing that state under the write lock (so memory follows the store's order, even where SQLite
/// reuses the id of a removed subject), in time proportional to the faces they touch, never to the
/// gallery. Every answer is one that some order of the operations would give.
/// </para>
/// </summary>
public sealed class FaceGallery : IDisposable
{
    private readonly GalleryStore _store;
    private readonly FaceIndexOptions? _indexOptions;
    private readonly ReaderWriterLockSlim _state = new(LockRecursionPolicy.NoRecursion);
    private readonly object _writers = new();
    private FaceIndex _index;
    // row of the index → subject id (−1 once removed); subject id → name, name → id, id → rows
    private readonly List<long> _subjectOfRow = [];
    private readonly Dictionary<long, string> _names = [];
    private readonly Dictionary<string, long> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<int>> _rowsOfSubject = [];

    private FaceGallery(GalleryStore store, FaceIndexOptions? indexOptions)
    {
        _store = store;
        _indexOptions = indexOptions;
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, indexOptions);
        Reload();
    }

    public GalleryStore Store => _store;
    public GalleryModel Model => _store.Model;

    /// <summary>Faces that can be found.</summary>
    public int FaceCount => _index.Count;

    public static FaceGallery Open(string path, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null)
    {
        var store = GalleryStore.Open(path, model, readOnly);
        try { return new FaceGallery(store, indexOptions); }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public static Task<FaceGallery> OpenAsync(string path, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null, CancellationToken ct = default)
        => Task.Run(() => Open(path, model, readOnly, indexOptions), ct);

    /// <summary>Where the HNSW graph of a large gallery is kept between runs, next to the gallery file.</summary>
    public string GraphPath => _store.Path + ".hnsw";

    /// <summary>True when the last reload took the saved HNSW graph instead of building it.</summary>
    public bool GraphLoadedFromDisk { get; private set; }

    /// <summary>
    /// Re-reads every face from the store (one consistent snapshot) and rebuilds the index; removed rows
    /// are left behind. A large gallery's HNSW graph is read back from <see cref="GraphPath"/> when it
    /// matches the faces, else built and saved there, so a command-line run does not rebuild it each time.
    /// Other replicas' changes are seen after it.
    /// </summary>
    public void Reload()
    {
        lock (_writers) ReloadLocked();
    }

    private void ReloadLocked()
    {
        var (subjects, faces) = _store.Snapshot();
        var options = (_indexOptions ?? new FaceIndexOptions()) with { BuildOnAdd = false };
        var index = new FaceIndex(_store.Model.EmbeddingSize, _store.Model.Metric, options);
        index.Add(faces.Select(f => f.Embedding).ToList());
        bool fromDisk = false;
        if (index.Count >= options.ApproximateFrom)
        {
            // the saved graph must be of these faces, in this order: its stamp is the count and the last face id
            var stamp = GraphPath + ".stamp";
            var expected = $"{faces.Count}:{(faces.Count > 0 ? faces[^1].Id : 0)}:{_store.Model.Id}";
            if (File.Exists(stamp) && File.ReadAllText(stamp) == expected && index.LoadGraph(GraphPath)) fromDisk = true;
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
        _state.EnterWriteLock();
        try
        {
            var old = _index;
            _index = index;
            _subjectOfRow.Clear();
            _subjectOfRow.AddRange(faces.Select(f => f.SubjectId));
            _names.Clear();
            _ids.Clear();
            foreach (var s in subjects) { _names[s.Id] = s.Name; _ids[s.Name] = s.Id; }
            _rowsOfSubject.Clear();
            for (int i = 0; i < faces.Count; i++)
            {
                if (!_rowsOfSubject.TryGetValue(faces[i].SubjectId, out var rows)) _rowsOfSubject[faces[i].SubjectId] = rows = [];
                rows.Add(i);
            }
            GraphLoadedFromDisk = fromDisk;
            old.Dispose();
        }
        finally { _state.ExitWriteLock(); }
    }

    /// <summary>Stores the faces (one transaction), then adds them to the live index: no rebuild, no re-read.</summary>
    public IReadOnlyList<long> Enroll(string name, IReadOnlyList<NewFace> faces, string? metadata = null)
    {
        lock (_writers) return EnrollLocked(name, faces, metadata);
    }

    private IReadOnlyList<long> EnrollLocked(string name, IReadOnlyList<NewFace> faces, string? metadata)
    {
        var done = _store.Enroll(name, faces, metadata);
        _state.EnterWriteLock();
        try
        {
            int first = _index.Add(faces.Select(f => f.Embedding).ToList());
            if (!_rowsOfSubject.TryGetValue(done.SubjectId, out var rows)) _rowsOfSubject[done.SubjectId] = rows = [];
            for (int i = 0; i < faces.Count; i++)
            {
                _subjectOfRow.Add(done.SubjectId);
                rows.Add(first + i);
            }
            _names[done.SubjectId] = name;
            _ids[name] = done.SubjectId;
        }
        finally { _state.ExitWriteLock(); }
        return done.FaceIds;
    }

    public Task<IReadOnlyList<long>> EnrollAsync(string name, IReadOnlyList<NewFace> faces, string? metadata = null, CancellationToken ct = default)
        => Task.Run(() => Enroll(name, faces, metadata), ct);

    /// <summary>Erases a subject from the store (see <see cref="GalleryStore.Remove"/>) and from the live index.</summary>
    public bool Remove(string name)
    {
        lock (_writers) return RemoveLocked(name);
    }

    private bool RemoveLocked(string name)
    {
        if (_store.RemoveSubject(name) is not { } id) return false;
        _state.EnterWriteLock();
        try
        {
            if (_names.Remove(id, out var current) && _ids.TryGetValue(current, out var owner) && owner == id) _ids.Remove(current);
            if (_rowsOfSubject.Remove(id, out var rows))
            {
                _index.Remove(rows);
                foreach (var r in rows) _subjectOfRow[r] = -1;
            }
        }
        finally { _state.ExitWriteLock(); }
        return true;
    }

    public bool Rename(string oldName, string newName)
    {
        lock (_writers) return RenameLocked(oldName, newName);
    }

    private bool RenameLocked(string oldName, string newName)
    {
        if (_store.RenameSubject(oldName, newName) is not { } id) return false;
        _state.EnterWriteLock();
        try
        {
            if (_names.TryGetValue(id, out var current) && _ids.TryGetValue(current, out var owner) && owner == id) _ids.Remove(current);
            if (_names.ContainsKey(id) || _rowsOfSubject.ContainsKey(id))
            {
                _names[id] = newName;
                _ids[newName] = id;
            }
        }
        finally { _state.ExitWriteLock(); }
        return true;
    }

    /// <summary>The best <paramref name="top"/> subjects for an embedding, and the open-set verdict.</summary>
    public Identification Identify(float[] embedding, double threshold, int top = 1, Aggregation aggregation = Aggregation.Min)
    {
        _state.EnterReadLock();
        try
        {
            if (_index.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
            // Nearest faces first, then per subject; enough faces to be sure of the top subjects.
            var near = _index.Search(embedding, Math.Min(_index.Count, Math.Max(32, top * 8)));
            var subjects = near.Where(n => _subjectOfRow[n.Index] >= 0).GroupBy(n => _subjectOfRow[n.Index]).Select(g =>
            {
                double d = aggregation == Aggregation.Min ? g.Min(n => n.Distance) : _index.MeanDistance(embedding, _rowsOfSubject[g.Key]);
                return new Candidate(_names[g.Key], d);
            }).OrderBy(c => c.Distance).Take(Math.Max(1, top)).ToList();
            if (subjects.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
            var best = subjects[0];
            bool known = best.Distance <= threshold;
            return new Identification(known ? best.Name : null, known, best.Distance, threshold, subjects);
        }
        finally { _state.ExitReadLock(); }
    }

    public Task<Identification> IdentifyAsync(float[] embedding, double threshold, int top = 1, Aggregation aggregation = Aggregation.Min, CancellationToken ct = default)
        => Task.Run(() => Identify(embedding, threshold, top, aggregation), ct);

    public void Dispose()
    {
        _index.Dispose();
        _store.Dispose();
        _state.Dispose();
    }
}
