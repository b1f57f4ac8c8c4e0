using System.Numerics.Tensors;
using Cloud.Unum.USearch;

namespace FaceNet.Gallery;

/// <summary>Options of <see cref="FaceIndex"/>.</summary>
public sealed record FaceIndexOptions
{
    /// <summary>From this many faces on, searches go through the HNSW graph instead of the exact scan.</summary>
    public int ApproximateFrom { get; init; } = 200_000;
    /// <summary>HNSW graph degree (M). 32 reaches recall@1 ≥ 0.99 on a million faces where 16 gave 0.89 (facenet bench --gallery).</summary>
    public int Connectivity { get; init; } = 32;
    /// <summary>Candidate list while building (efConstruction).</summary>
    public int ExpansionAdd { get; init; } = 96;
    /// <summary>Candidate list while searching (ef); larger is slower and more exact.</summary>
    public int ExpansionSearch { get; init; } = 64;
    /// <summary>
    /// Neighbours asked of the graph per search, whatever k (the search's candidate list is at least
    /// this long, so it acts as a larger ef); the best k of them are returned.
    /// </summary>
    public int MinCandidates { get; init; } = 64;
    /// <summary>Build the graph as soon as <see cref="ApproximateFrom"/> faces are added (off when a saved graph is loaded instead).</summary>
    public bool BuildOnAdd { get; init; } = true;
}

/// <summary>A face found near a query: its position in the index and its distance.</summary>
public readonly record struct Neighbor(int Index, float Distance);

/// <summary>
/// Nearest-neighbour search over unit-length embeddings. Exact top-k scans the whole matrix with SIMD
/// dot products (<see cref="TensorPrimitives"/>) on all cores; from <see cref="FaceIndexOptions.ApproximateFrom"/>
/// faces on, an HNSW graph (USearch) answers instead, updated as faces are added. Distances are
/// Euclidean (on unit vectors, √(2 − 2·cos)) or cosine (1 − cos), as the model's metric says.
/// Rows are numbered in the order they were added and keep their number; <see cref="Remove"/> marks a
/// row dead (searches skip it) instead of moving the others. Thread-safe: searches share a read lock,
/// <see cref="Add"/> and <see cref="Remove"/> take the write lock.
/// </summary>
public sealed class FaceIndex : IDisposable
{
    private readonly int _dim;
    private readonly bool _euclidean;
    private readonly FaceIndexOptions _options;
    private readonly ReaderWriterLockSlim _lock = new();
    private float[] _matrix;
    private bool[] _dead;
    private int _count, _deadCount;
    private USearchIndex? _hnsw;
    // USearch serves as many searches at once as the machine has cores (one scratch context each) and
    // fails beyond: more threads wait their turn here.
    private readonly SemaphoreSlim _graphSearches = new(Environment.ProcessorCount);

    public FaceIndex(int dimensions, Matching.Metric metric, FaceIndexOptions? options = null)
    {
        _dim = dimensions;
        _euclidean = metric == Matching.Metric.Euclidean;
        _options = options ?? new FaceIndexOptions();
        _matrix = new float[1024 * dimensions];
        _dead = new bool[1024];
    }

    /// <summary>Faces that can be found (added and not removed).</summary>
    public int Count => _count - _deadCount;

    /// <summary>Rows ever added, removed ones included: row numbers are below this.</summary>
    public int Rows => _count;
    public int Dimensions => _dim;

    /// <summary>True once the index answers through the HNSW graph.</summary>
    public bool IsApproximate => _hnsw is not null;

    /// <summary>Adds embeddings (unit length); returns the index of the first.</summary>
    public int Add(IReadOnlyList<float[]> embeddings)
    {
        _lock.EnterWriteLock();
        try
        {
            int first = _count;
            if ((long)(_count + embeddings.Count) * _dim > _matrix.Length)
            {
                // doubling: adding one face costs O(1) on average, whatever the gallery's size
                long size = Math.Max((long)(_count + embeddings.Count) * _dim, (long)_matrix.Length * 2);
                Array.Resize(ref _matrix, checked((int)Math.Min(size, Array.MaxLength)));
                Array.Resize(ref _dead, _matrix.Length / _dim);
            }
            foreach (var e in embeddings)
            {
                if (e.Length != _dim) throw new ArgumentException($"embedding of {e.Length} values in a {_dim}-d index");
                e.CopyTo(_matrix, _count * _dim);
                _hnsw?.Add((ulong)_count, e);
                _count++;
            }
            if (_hnsw is null && _count >= _options.ApproximateFrom && _options.BuildOnAdd) BuildGraph();
            return first;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Makes rows unfindable (a subject removed); their numbers are not reused.</summary>
    public void Remove(IEnumerable<int> rows)
    {
        _lock.EnterWriteLock();
        try
        {
            foreach (var r in rows)
            {
                if (r < 0 || r >= _count || _dead[r]) continue;
                _dead[r] = true;
                _deadCount++;
                _matrix.AsSpan(r * _dim, _dim).Clear(); // the embedding does not stay in memory either
                _hnsw?.Remove((ulong)r);
            }
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Builds the HNSW graph now, whatever the size (benchmarks and tests call it directly).</summary>
    public void BuildGraph()
    {
        bool locked = !_lock.IsWriteLockHeld;
        if (locked) _lock.EnterWriteLock();
        try
        {
            _hnsw?.Dispose();
            var g = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, (ulong)_dim, (ulong)_options.Connectivity,
                (ulong)_options.ExpansionAdd, (ulong)_options.ExpansionSearch);
            // One thread: USearch's concurrent add() can leave nodes that are stored but that no search reaches
            // (unum-cloud/USearch#735; a whole person went missing from a 1,000-face gallery built on 2 threads).
            // Reserving up front spares the binding a reallocation per doubling.
            var reserve = typeof(USearchIndex).GetMethod("IncreaseCapacity",
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, [typeof(ulong)]);
            reserve?.Invoke(g, [(ulong)Math.Max(_count, 1) + 1024]);
            for (int i = 0; i < _count; i++)
                if (!_dead[i]) g.Add((ulong)i, _matrix.AsSpan(i * _dim, _dim).ToArray());
            _hnsw = g;
        }
        finally { if (locked) _lock.ExitWriteLock(); }
    }

    /// <summary>Writes the HNSW graph (if built) to <paramref name="path"/>, atomically.</summary>
    public void SaveGraph(string path)
    {
        _lock.EnterReadLock();
        try
        {
            if (_hnsw is null) return;
            var tmp = path + ".tmp-" + Environment.ProcessId;
            _hnsw.Save(tmp);
            AtomicFile.MakeOwnerOnly(tmp); // copies of the faces: as private as the gallery
            File.Move(tmp, path, overwrite: true);
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>
    /// Takes a graph saved by <see cref="SaveGraph"/> for exactly these faces instead of building one;
    /// false (and nothing changed) when the file does not hold <see cref="Count"/> vectors of this size.
    /// </summary>
    public bool LoadGraph(string path)
    {
        if (!File.Exists(path)) return false;
        _lock.EnterWriteLock();
        try
        {
            USearchIndex g;
            try { g = new USearchIndex(path, false); }
            catch (Exception) { return false; } // unreadable or from another version: rebuild instead
            if (g.Size() != (ulong)Count || g.Dimensions() != (ulong)_dim) { g.Dispose(); return false; }
            _hnsw?.Dispose();
            _hnsw = g;
            return true;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>The <paramref name="k"/> nearest faces, nearest first; <paramref name="candidates"/> overrides <see cref="FaceIndexOptions.MinCandidates"/>.</summary>
    public Neighbor[] Search(ReadOnlySpan<float> query, int k, int? candidates = null)
    {
        if (query.Length != _dim) throw new ArgumentException($"query of {query.Length} values in a {_dim}-d index");
        _lock.EnterReadLock();
        try
        {
            if (Count == 0 || k <= 0) return [];
            if (_hnsw is not null) return SearchGraph(query.ToArray(), Math.Min(k, Count), candidates ?? _options.MinCandidates);
            return Exact(query, k);
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The exact answer by a full scan, whatever the size.</summary>
    public Neighbor[] SearchExact(ReadOnlySpan<float> query, int k)
    {
        if (query.Length != _dim) throw new ArgumentException($"query of {query.Length} values in a {_dim}-d index");
        _lock.EnterReadLock();
        try { return Exact(query, k); }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>A copy of a row's embedding (zeros once removed).</summary>
    public float[] Vector(int row)
    {
        _lock.EnterReadLock();
        try
        {
            if (row < 0 || row >= _count) throw new ArgumentOutOfRangeException(nameof(row));
            return _matrix.AsSpan(row * _dim, _dim).ToArray();
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The mean distance from the query to the given rows (a subject's faces); the caller holds no lock.</summary>
    public double MeanDistance(ReadOnlySpan<float> query, IReadOnlyList<int> rows)
    {
        _lock.EnterReadLock();
        try
        {
            double sum = 0;
            int n = 0;
            foreach (var r in rows)
            {
                if (r < 0 || r >= _count || _dead[r]) continue;
                sum += ToDistance(TensorPrimitives.Dot(query, _matrix.AsSpan(r * _dim, _dim)));
                n++;
            }
            return n == 0 ? double.PositiveInfinity : sum / n;
        }
        finally { _lock.ExitReadLock(); }
    }

    private Neighbor[] Exact(ReadOnlySpan<float> query, int k)
    {
        k = Math.Min(k, Count);
        if (k <= 0) return [];
        int parts = _count < 20_000 ? 1 : Environment.ProcessorCount;
        var q = query.ToArray();
        var partial = new Neighbor[parts][];
        Parallel.For(0, parts, p =>
        {
            int from = (int)((long)_count * p / parts), to = (int)((long)_count * (p + 1) / parts);
            var best = new TopK(k);
            var scores = new float[4096];
            for (int start = from; start < to; start += scores.Length)
            {
                int n = Math.Min(scores.Length, to - start);
                DotRows(_matrix, start, n, _dim, q, scores);
                float worst = best.Worst;
                for (int i = 0; i < n; i++)
                    if (-scores[i] < worst && !_dead[start + i]) { best.Offer(start + i, -scores[i]); worst = best.Worst; }
            }
            partial[p] = best.Items();
        });
        return partial.SelectMany(x => x).OrderBy(n => n.Distance).Take(k).Select(n => new Neighbor(n.Index, ToDistance(-n.Distance))).ToArray();
    }

    /// <summary>scores[i] = matrix row (start + i) · q, with 256-bit SIMD when the CPU has it.</summary>
    private static unsafe void DotRows(float[] matrix, int start, int rows, int dim, float[] q, float[] scores)
    {
        fixed (float* m0 = matrix, qp = q, sp = scores)
        {
            float* row = m0 + (long)start * dim;
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && dim % 16 == 0)
            {
                for (int r = 0; r < rows; r++, row += dim)
                {
                    var a0 = System.Runtime.Intrinsics.Vector256<float>.Zero;
                    var a1 = System.Runtime.Intrinsics.Vector256<float>.Zero;
                    for (int d = 0; d < dim; d += 16)
                    {
                        a0 += System.Runtime.Intrinsics.Vector256.Load(row + d) * System.Runtime.Intrinsics.Vector256.Load(qp + d);
                        a1 += System.Runtime.Intrinsics.Vector256.Load(row + d + 8) * System.Runtime.Intrinsics.Vector256.Load(qp + d + 8);
                    }
                    sp[r] = System.Runtime.Intrinsics.Vector256.Sum(a0 + a1);
                }
            }
            else
            {
                for (int r = 0; r < rows; r++, row += dim)
                    sp[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(row, dim), new ReadOnlySpan<float>(qp, dim));
            }
        }
    }

    private Neighbor[] SearchGraph(float[] query, int k, int candidates)
    {
        int ask = Math.Min(Count, Math.Max(k, candidates));
        int found;
        ulong[] keys;
        float[] distances;
        _graphSearches.Wait();
        try { found = _hnsw!.Search(query, ask, out keys, out distances); }
        finally { _graphSearches.Release(); }
        var result = new Neighbor[Math.Min(k, found)];
        for (int i = 0; i < result.Length; i++) result[i] = new Neighbor((int)keys[i], ToDistance(1 - distances[i]));
        return result;
    }

    private float ToDistance(float cos) => _euclidean ? MathF.Sqrt(MathF.Max(0, 2 - 2 * cos)) : 1 - cos;

    /// <summary>Keeps the k smallest scores seen (a max-heap on the score).</summary>
    private sealed class TopK(int k)
    {
        private readonly PriorityQueue<int, float> _heap = new(k + 1, Comparer<float>.Create((a, b) => b.CompareTo(a)));

        /// <summary>The score a newcomer must beat (+∞ until k are held).</summary>
        public float Worst => _heap.Count < k ? float.PositiveInfinity : _heap.TryPeek(out _, out var w) ? w : float.PositiveInfinity;

        public void Offer(int index, float score)
        {
            if (_heap.Count < k) _heap.Enqueue(index, score);
            else if (_heap.TryPeek(out _, out var worst) && score < worst) _heap.EnqueueDequeue(index, score);
        }

        public Neighbor[] Items()
        {
            var items = new List<Neighbor>(_heap.Count);
            foreach (var (i, s) in _heap.UnorderedItems) items.Add(new Neighbor(i, s));
            return items.ToArray();
        }
    }

    public void Dispose()
    {
        _hnsw?.Dispose();
        _lock.Dispose();
        _graphSearches.Dispose();
    }
}
