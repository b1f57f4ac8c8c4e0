using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Gallery;

/// <summary>
/// A gallery of enrolled people: the store (SQLite file or PostgreSQL) plus an in-memory search index
/// over all their faces. Open-set identification answers with the nearest subject when its distance is
/// within the threshold, and "unknown" otherwise.
/// <para>
/// Safe to share between threads: identifications run concurrently under a read lock over the
/// in-memory state; enrol, remove and rename run one at a time, each committing to the store and then
/// applying the store's change feed under the write lock, in the store's order (other processes'
/// changes come in the same way: <see cref="Refresh"/>, <see cref="FollowAsync"/>), in time proportional to the faces
/// they touch, never to the gallery. Every answer is one that some order of the operations would give.
/// </para>
/// </summary>
public sealed class FaceGallery : IGallery, IDisposable
{
    private readonly IGalleryStore _store;
    private readonly FaceIndexOptions? _indexOptions;
    private readonly ReaderWriterLockSlim _state = new(LockRecursionPolicy.NoRecursion);
    private readonly object _writers = new();
    private FaceIndex _index;
    // row of the index → subject id (−1 once removed); subject id → name, name → id, id → rows
    private readonly List<long> _subjectOfRow = [];
    // row of the index → the face's yaw at enrolment (NaN: not recorded, counted as frontal)
    private readonly List<float> _yawOfRow = [];
    private readonly Dictionary<long, string> _names = [];
    private readonly Dictionary<string, long> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<int>> _rowsOfSubject = [];
    // the last change of the store that the in-memory state holds
    private long _sequence;

    private FaceGallery(IGalleryStore store, FaceIndexOptions? indexOptions)
    {
        _store = store;
        _indexOptions = indexOptions;
        _index = new FaceIndex(store.Model.EmbeddingSize, store.Model.Metric, indexOptions);
        Reload();
    }

    public IGalleryStore Store => _store;
    public GalleryModel Model => _store.Model;

    /// <summary>The id of the subject of that name, or null.</summary>
    public long? SubjectIdOf(string name)
    {
        _state.EnterReadLock();
        try { return _ids.TryGetValue(name, out var id) ? id : null; }
        finally { _state.ExitReadLock(); }
    }

    /// <summary>Faces that can be found.</summary>
    public int FaceCount => _index.Count;

    /// <summary>Subjects that can be found.</summary>
    public int SubjectCount
    {
        get
        {
            _state.EnterReadLock();
            try { return _names.Count; }
            finally { _state.ExitReadLock(); }
        }
    }

    /// <summary>The last change of the store that this gallery's answers include.</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    /// <summary>Opens a gallery by its location: an SQLite file, or a PostgreSQL connection string (see <see cref="GalleryStores"/>).</summary>
    public static FaceGallery Open(string location, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null,
        Protection.MasterKey? key = null)
        => Open(GalleryStores.Open(location, model, readOnly, key), indexOptions);

    /// <summary>A gallery over a store that was opened already; the gallery disposes it.</summary>
    public static FaceGallery Open(IGalleryStore store, FaceIndexOptions? indexOptions = null)
    {
        try { return new FaceGallery(store, indexOptions); }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public static Task<FaceGallery> OpenAsync(string location, GalleryModel? model, bool readOnly = false, FaceIndexOptions? indexOptions = null,
        Protection.MasterKey? key = null, CancellationToken ct = default)
        => Task.Run(() => Open(location, model, readOnly, indexOptions, key), ct);

    /// <summary>
    /// Where the HNSW graph of a large SQLite gallery is kept between runs, next to the gallery file; null for a
    /// database, and for an encrypted gallery (the graph holds the vectors in the clear: it is built at each start).
    /// </summary>
    public string? GraphPath => _store is GalleryStore { Encrypted: false } sqlite ? sqlite.Path + ".hnsw" : null;

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
        var (subjects, faces, sequence) = _store.Snapshot();
        var options = (_indexOptions ?? new FaceIndexOptions()) with { BuildOnAdd = false };
        var index = new FaceIndex(_store.Model.EmbeddingSize, _store.Model.Metric, options);
        index.Add(faces.Select(f => f.Embedding).ToList());
        bool fromDisk = false;
        if (index.Count >= options.ApproximateFrom && GraphPath is null) index.BuildGraph();
        else if (index.Count >= options.ApproximateFrom && GraphPath is { } graphPath)
        {
            // the saved graph must be of these faces, in this order: its stamp is the count and the last face id
            var stamp = graphPath + ".stamp";
            var expected = $"{faces.Count}:{(faces.Count > 0 ? faces[^1].Id : 0)}:{_store.Model.Id}:int8-m{options.Connectivity}"; // a float graph of before is rebuilt
            if (File.Exists(stamp) && File.ReadAllText(stamp) == expected && index.LoadGraph(graphPath)) fromDisk = true;
            else
            {
                index.BuildGraph();
                try
                {
                    index.SaveGraph(graphPath);
                    File.WriteAllText(stamp, expected);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a read-only place: rebuild next time
            }
        }
        index.BuildsOnAdd = _indexOptions?.BuildOnAdd ?? true; // a gallery that grows past the size while it runs builds its graph then
        _state.EnterWriteLock();
        try
        {
            var old = _index;
            _index = index;
            _subjectOfRow.Clear();
            _subjectOfRow.AddRange(faces.Select(f => f.SubjectId));
            _yawOfRow.Clear();
            _yawOfRow.AddRange(faces.Select(f => f.Yaw is { } y ? (float)y : float.NaN));
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
            Interlocked.Exchange(ref _sequence, sequence);
            old.Dispose();
        }
        finally { _state.ExitWriteLock(); }
    }

    /// <summary>
    /// Brings the in-memory state up to the store: applies the changes committed since (by this process or
    /// any other) in their order, or reloads when the feed no longer reaches back. Returns how many
    /// changes were applied.
    /// </summary>
    public int Refresh()
    {
        lock (_writers) return CatchUpLocked();
    }

    /// <summary>
    /// Follows other processes' changes until cancelled: a PostgreSQL store wakes it at each commit, an
    /// SQLite one is polled every <paramref name="poll"/> (default one second). <paramref name="onProblem"/>
    /// hears of each failure, and of the first success after one (null).
    /// </summary>
    public async Task FollowAsync(TimeSpan? poll = null, Action<Exception?>? onProblem = null, CancellationToken ct = default)
    {
        var every = poll ?? TimeSpan.FromSeconds(1);
        bool failing = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _store.WaitForChangesAsync(every, ct).ConfigureAwait(false);
                Refresh();
                if (failing) onProblem?.Invoke(null);
                failing = false;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // a database that went away for a moment: say so, wait, try again
                failing = true;
                onProblem?.Invoke(e);
                try { await Task.Delay(every, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    private int CatchUpLocked()
    {
        int applied = 0;
        while (true)
        {
            var changes = _store.ChangesSince(_sequence);
            if (changes is null)
            {
                ReloadLocked();
                return applied + 1;
            }
            if (changes.Count == 0) return applied;
            _state.EnterWriteLock();
            try
            {
                foreach (var c in changes) Apply(c);
                Interlocked.Exchange(ref _sequence, changes[^1].Sequence);
            }
            finally { _state.ExitWriteLock(); }
            applied += changes.Count;
        }
    }

    // under the write lock
    private void Apply(GalleryChange c)
    {
        switch (c.Kind)
        {
            case ChangeKind.Enrolled when c.Faces.Count > 0 && c.Name is not null:
            {
                int first = _index.Add(c.Faces.Select(f => f.Embedding).ToList());
                if (!_rowsOfSubject.TryGetValue(c.SubjectId, out var rows)) _rowsOfSubject[c.SubjectId] = rows = [];
                for (int i = 0; i < c.Faces.Count; i++)
                {
                    _subjectOfRow.Add(c.SubjectId);
                    _yawOfRow.Add(c.Faces[i].Yaw is { } y ? (float)y : float.NaN);
                    rows.Add(first + i);
                }
                if (_names.TryGetValue(c.SubjectId, out var was) && _ids.TryGetValue(was, out var owner) && owner == c.SubjectId) _ids.Remove(was);
                _names[c.SubjectId] = c.Name;
                _ids[c.Name] = c.SubjectId;
                break;
            }
            case ChangeKind.Removed:
            {
                if (_names.Remove(c.SubjectId, out var current) && _ids.TryGetValue(current, out var owner) && owner == c.SubjectId) _ids.Remove(current);
                if (_rowsOfSubject.Remove(c.SubjectId, out var rows))
                {
                    _index.Remove(rows);
                    foreach (var r in rows) _subjectOfRow[r] = -1;
                }
                break;
            }
            case ChangeKind.Renamed when c.Name is not null:
            {
                if (_names.TryGetValue(c.SubjectId, out var current) && _ids.TryGetValue(current, out var owner) && owner == c.SubjectId) _ids.Remove(current);
                if (_names.ContainsKey(c.SubjectId) || _rowsOfSubject.ContainsKey(c.SubjectId))
                {
                    _names[c.SubjectId] = c.Name;
                    _ids[c.Name] = c.SubjectId;
                }
                break;
            }
        }
    }

    /// <summary>Stores the faces (one transaction), then adds them to the live index through the change feed: no rebuild.</summary>
    public IReadOnlyList<long> Enroll(string name, IReadOnlyList<NewFace> faces, string? metadata = null) => Commit(name, faces, metadata).FaceIds;

    private Enrollment Commit(string name, IReadOnlyList<NewFace> faces, string? metadata)
    {
        lock (_writers)
        {
            var done = _store.Enroll(name, faces, metadata);
            CatchUpLocked();
            return done;
        }
    }

    /// <summary>As <see cref="Enroll"/>, with the subject's id; done before the task is returned (the work is in memory and one commit).</summary>
    public Task<Enrollment> AddFacesAsync(string name, IReadOnlyList<NewFace> faces, string? metadata = null, CancellationToken ct = default)
        => Task.FromResult(Commit(name, faces, metadata));

    Task<bool> IGallery.RemoveAsync(string name, CancellationToken ct) => Task.FromResult(Remove(name));

    Task<Identification> IGallery.IdentifyAsync(float[] embedding, ModelInfo model, IdentifyOptions options, CancellationToken ct)
        => Task.FromResult(Identify(embedding, model, options));

    Task<(int Subjects, int Faces)> IGallery.SizeAsync(CancellationToken ct) => Task.FromResult((SubjectCount, FaceCount));

    /// <summary>Erases a subject from the store (see <see cref="IGalleryStore.RemoveSubject"/>) and from the live index.</summary>
    public bool Remove(string name)
    {
        lock (_writers)
        {
            if (_store.RemoveSubject(name) is null) return false;
            CatchUpLocked();
            return true;
        }
    }

    public bool Rename(string oldName, string newName)
    {
        lock (_writers)
        {
            if (_store.RenameSubject(oldName, newName) is null) return false;
            CatchUpLocked();
            return true;
        }
    }

    private readonly object _nearestGate = new();
    private sealed record NearestSample(int Subjects, double[] Distances);
    private volatile NearestSample? _nearest;

    // Each sampled subject's first face searched against the other subjects' faces, ascending; measured again once
    // the subjects have changed by a twentieth. Under the read lock (the index has its own lock too); every search
    // reads the cached sample without a lock, only a new measurement takes one.
    private double[] NearestSubjectsLocked()
    {
        bool Fresh(NearestSample? s) => s is not null && Math.Abs(s.Subjects - _names.Count) * 20 <= s.Subjects;
        if (_nearest is { } cached && Fresh(cached)) return cached.Distances;
        lock (_nearestGate)
        {
            if (_nearest is { } n && Fresh(n)) return n.Distances;
            var sample = SubjectSearch.Sample(_rowsOfSubject.Where(p => _names.ContainsKey(p.Key)
                && p.Value.Count > 0).Select(p => (Id: p.Key, Rows: p.Value)).OrderBy(p => p.Id).ToList());
            var d = new double[sample.Count];
            // in batches: a compact index re-ranks each batch's candidates from the store in one query
            const int Batch = 256;
            for (int from = 0; from < sample.Count; from += Batch)
            {
                var part = sample.GetRange(from, Math.Min(Batch, sample.Count - from));
                var firsts = SubjectSearch.FirstFaces(_index, _rowsOfSubject, [.. part.Select(p => p.Id)], _store);
                var near = SubjectSearch.NearestOthers(_index, _subjectOfRow, firsts, [.. part.Select(p => p.Id)], [.. part.Select(p => p.Rows.Count)], _store);
                near.CopyTo(d, from);
            }
            Array.Sort(d);
            _nearest = new NearestSample(_names.Count, d);
            return d;
        }
    }

    /// <summary>
    /// Who it is, with the threshold chosen for the gallery as it is now: for the target FPIR over this
    /// gallery's comparisons from the model's impostor tail (see <see cref="OpenSetThreshold.For"/>), or
    /// the one <paramref name="options"/> gives. Under the FPIR rule a model with pose bands holds each candidate
    /// face to that threshold plus its band's offset (<see cref="PoseRule"/>); a given threshold is one fixed value.
    /// </summary>
    public Identification Identify(float[] embedding, ModelInfo model, IdentifyOptions options)
    {
        _state.EnterReadLock();
        try
        {
            var rule = RuleLocked(model, options);
            return IdentifyLocked(embedding, rule.Threshold, options.Top, options.Aggregation, options.Excluding, PoseRule(model, rule), options.Yaw)
                with { Rule = rule, Subjects = _names.Count };
        }
        finally { _state.ExitReadLock(); }
    }

    /// <summary>
    /// The pose bands a search under <paramref name="rule"/> applies: the model's (<see cref="ModelInfo.PoseThresholds"/>) unless the
    /// caller fixed the threshold (one value for every candidate) — the same rule as verification's.
    /// </summary>
    public static PoseThresholds? PoseRule(ModelInfo model, OpenSetThreshold rule) => rule.Rule == ThresholdRule.Given ? null : model.PoseThresholds;

    /// <summary>The threshold <see cref="Identify(float[], ModelInfo, IdentifyOptions)"/> holds a search to now, for callers that decide on their own (a video track's votes).</summary>
    public OpenSetThreshold Rule(ModelInfo model, IdentifyOptions options)
    {
        _state.EnterReadLock();
        try { return RuleLocked(model, options); }
        finally { _state.ExitReadLock(); }
    }

    private OpenSetThreshold RuleLocked(ModelInfo model, IdentifyOptions options)
    {
        // the impostor comparisons one search makes: every face under min aggregation, every subject under mean
        long n = options.Aggregation == Aggregation.Min ? _index.Count : _names.Count;
        if (options.Excluding is { } left && _ids.TryGetValue(left, out var leftId))
            n -= options.Aggregation == Aggregation.Min ? _rowsOfSubject.GetValueOrDefault(leftId)?.Count ?? 0 : 1;
        var rule = OpenSetThreshold.For(model, Math.Max(1, n), options.Fpir, options.Threshold);
        return options.UseGalleryPeople && rule.CanUseGallery(_names.Count) ? rule.WithGallery(NearestSubjectsLocked()) : rule;
    }

    /// <summary>The best <paramref name="top"/> subjects for an embedding, and the open-set verdict at a fixed threshold.</summary>
    public Identification Identify(float[] embedding, double threshold, int top = 1, Aggregation aggregation = Aggregation.Min)
        => Identify(embedding, threshold, null, null, top, aggregation);

    /// <summary>
    /// As <see cref="Identify(float[], double, int, Aggregation)"/>, each candidate face held to <paramref name="threshold"/> plus the
    /// offset of its band in <paramref name="poseBands"/> for the pose difference ||<paramref name="yaw"/>| − |its yaw|| (a face stored
    /// without a yaw counts as frontal; an unknown <paramref name="yaw"/> puts every candidate in the first band).
    /// </summary>
    public Identification Identify(float[] embedding, double threshold, PoseThresholds? poseBands, double? yaw, int top = 1,
        Aggregation aggregation = Aggregation.Min)
    {
        _state.EnterReadLock();
        try { return IdentifyLocked(embedding, threshold, top, aggregation, null, poseBands, yaw); }
        finally { _state.ExitReadLock(); }
    }

    private Identification IdentifyLocked(float[] embedding, double threshold, int top, Aggregation aggregation, string? excluding,
        PoseThresholds? poseBands, double? yaw)
    {
        if (_index.Count == 0) return new Identification(null, false, double.PositiveInfinity, threshold, []);
        long left = excluding is not null && _ids.TryGetValue(excluding, out var id) ? id : -1;
        var subjects = SubjectSearch.Best(_index, _subjectOfRow, _rowsOfSubject, _names, embedding, top, aggregation, left, _store, _yawOfRow,
            SubjectSearch.Offsets(poseBands, yaw));
        return SubjectSearch.Answer(subjects, threshold);
    }

    /// <summary>
    /// Whom a face about to be enrolled as <paramref name="name"/> would be identified as instead: another
    /// subject within the open-set threshold (the gallery already knows this person under another name), or null.
    /// </summary>
    public Identification? Duplicate(string name, float[] embedding, ModelInfo model, IdentifyOptions? options = null)
    {
        var id = Identify(embedding, model, (options ?? new IdentifyOptions()) with { Excluding = name, Top = 1 });
        return id.Known ? id : null;
    }

    /// <summary>
    /// Pairs of subjects that are probably one person: each subject's faces searched against the others
    /// under the open-set rule; each pair once, at its smallest distance, closest first.
    /// </summary>
    public IReadOnlyList<DuplicatePair> Duplicates(ModelInfo model, IdentifyOptions? options = null)
    {
        options ??= new IdentifyOptions();
        List<(string Name, long Id, int[] Rows, float[] Yaws)> subjects;
        _state.EnterReadLock();
        try { subjects = _rowsOfSubject.Where(p => _names.ContainsKey(p.Key)).Select(p => (_names[p.Key], p.Key, p.Value.ToArray(), p.Value.Select(r => _yawOfRow[r]).ToArray())).ToList(); }
        finally { _state.ExitReadLock(); }
        var found = new System.Collections.Concurrent.ConcurrentDictionary<(string, string), DuplicatePair>();
        // each subject's faces: from memory, or (a compact index) from the store, a thousand subjects at a time
        foreach (var chunk in subjects.Chunk(1000))
        {
            var stored = _index.HasVectors ? null : _store.FacesOf([.. chunk.Select(s => s.Id)]).ToLookup(f => f.SubjectId);
            Parallel.ForEach(chunk, s =>
            {
                var faces = stored is null ? s.Rows.Select((r, k) => (Vector: _index.Vector(r), Yaw: s.Yaws[k]))
                    : stored[s.Id].Select(f => (Vector: f.Embedding, f.Yaw));
                foreach (var (vector, yaw) in faces)
                {
                    var id = Identify(vector, model, options with { Excluding = s.Name, Top = 1, Yaw = float.IsNaN(yaw) ? 0 : yaw });
                    if (!id.Known) continue;
                    var key = string.CompareOrdinal(s.Name, id.Name) < 0 ? (s.Name, id.Name!) : (id.Name!, s.Name);
                    var pair = new DuplicatePair(key.Item1, key.Item2, id.Distance, id.Threshold);
                    found.AddOrUpdate(key, pair, (_, was) => was.Distance <= pair.Distance ? was : pair);
                }
            });
        }
        return found.Values.OrderBy(p => p.Distance).ThenBy(p => p.Subject, StringComparer.Ordinal).ToList();
    }

    public Task<Identification> IdentifyAsync(float[] embedding, double threshold, int top = 1,
        Aggregation aggregation = Aggregation.Min, CancellationToken ct = default)
        => Task.Run(() => Identify(embedding, threshold, top, aggregation), ct);

    public void Dispose()
    {
        _index.Dispose();
        _store.Dispose();
        _state.Dispose();
    }
}
