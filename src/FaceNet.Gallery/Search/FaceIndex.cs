using System.Numerics.Tensors;

namespace FaceNet.Gallery;

/// <summary>
/// Nearest-neighbour search over unit-length embeddings. Exact top-k scans the whole matrix with SIMD
/// dot products (<see cref="TensorPrimitives"/>) on all cores; from <see cref="FaceIndexOptions.ApproximateFrom"/>
/// faces on, an HNSW graph over int8 codes (USearch, <see cref="HnswGraph"/>) answers instead, updated as faces
/// are added, and the float vectors leave memory: the index is then compact (<see cref="IsExact"/> false) and its
/// distances are those of the codes, for the caller to re-rank from the store (<see cref="SubjectSearch"/>).
/// Distances are Euclidean (on unit vectors, √(2 − 2·cos)) or cosine (1 − cos), as the model's metric says.
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
    private float[]? _matrix; // null once compact: the graph holds the only copy (int8 codes)
    private bool[] _dead;
    private int _count, _deadCount;
    private HnswGraph? _hnsw;

    public FaceIndex(int dimensions, Matching.Metric metric, FaceIndexOptions? options = null)
    {
        _dim = dimensions;
        _euclidean = metric == Matching.Metric.Euclidean;
        _options = options ?? new FaceIndexOptions();
        _matrix = new float[1024 * dimensions];
        _dead = new bool[1024];
        BuildsOnAdd = _options.BuildOnAdd;
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
    }

    /// <summary>Faces that can be found (added and not removed).</summary>
    public int Count => _count - _deadCount;

    /// <summary>Rows ever added, removed ones included: row numbers are below this.</summary>
    public int Rows => _count;
    public int Dimensions => _dim;

    /// <summary>Whether adding the face that reaches <see cref="FaceIndexOptions.ApproximateFrom"/> builds the graph (from <see cref="FaceIndexOptions.BuildOnAdd"/>; a gallery turns it on once its bulk load is done).</summary>
    public bool BuildsOnAdd { get; set; }

    /// <summary>True once the index answers through the HNSW graph.</summary>
    public bool IsApproximate => _hnsw is not null;

    /// <summary>True while the float vectors are in memory: searches give exact distances, <see cref="Vector"/> and <see cref="MeanDistance"/> work.</summary>
    public bool HasVectors => _matrix is not null;

    /// <summary>True when <see cref="Search"/> gives exact distances (false: a compact index, whose candidates the caller re-ranks).</summary>
    public bool IsExact => _matrix is not null;

    /// <summary>Bytes the graph holds in memory (0 without one).</summary>
    public long GraphBytes
    {
        get
        {
            _lock.EnterReadLock();
            try { return _hnsw?.MemoryBytes ?? 0; }
            finally { _lock.ExitReadLock(); }
        }
    }

    /// <summary>Adds embeddings (unit length); returns the index of the first.</summary>
    public int Add(IReadOnlyList<float[]> embeddings)
    {
        _lock.EnterWriteLock();
        try
        {
            int first = _count;
            if (_count + embeddings.Count > _dead.Length)
            {
                // doubling: adding one face costs O(1) on average, whatever the gallery's size
                int rows = (int)Math.Min(Math.Max((long)_count + embeddings.Count, (long)_dead.Length * 2), Array.MaxLength / Math.Max(1, _dim));
                if (_matrix is not null) Array.Resize(ref _matrix, checked(rows * _dim));
                Array.Resize(ref _dead, rows);
            }
            foreach (var e in embeddings)
            {
                if (e.Length != _dim) throw new ArgumentException($"embedding of {e.Length} values in a {_dim}-d index");
                if (_matrix is not null) e.CopyTo(_matrix, _count * _dim);
                _hnsw?.Add(_count, e);
                _count++;
            }
            if (_hnsw is null && _count >= _options.ApproximateFrom && BuildsOnAdd && _matrix is not null) BuildGraph();
            return first;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Makes rows unfindable (a subject removed); their numbers are not reused. Their vectors and codes leave memory.</summary>
    public void Remove(IEnumerable<int> rows)
    {
        _lock.EnterWriteLock();
        try
        {
            var gone = new List<long>();
            foreach (var r in rows)
            {
                if (r < 0 || r >= _count || _dead[r]) continue;
                _dead[r] = true;
                _deadCount++;
                _matrix?.AsSpan(r * _dim, _dim).Clear(); // the embedding does not stay in memory either
                gone.Add(r);
            }
            _hnsw?.Remove(gone); // nor its code
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>The int8 code the graph holds for a row (null without a graph, or once removed): what a saved graph holds of that face.</summary>
    internal sbyte[]? Code(int row)
    {
        _lock.EnterReadLock();
        try { return _hnsw?.Code(row); }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>Whether a row was removed.</summary>
    public bool IsRemoved(int row) => row >= 0 && row < _count && _dead[row];

    /// <summary>
    /// Builds the HNSW graph now, whatever the size (benchmarks and tests call it directly), on one thread: USearch's
    /// concurrent add() leaves nodes that are stored but that no search reaches (unum-cloud/USearch#735; checked again
    /// with 2.26.6: 6 faces unreachable over 20 builds of 1,000 on 2 threads, none on one). The float vectors then
    /// leave memory unless <see cref="FaceIndexOptions.KeepVectors"/>.
    /// </summary>
    public void BuildGraph()
    {
        if (_matrix is null) throw new InvalidOperationException("a compact index has no float vectors to build a graph from");
        bool locked = !_lock.IsWriteLockHeld;
        if (locked) _lock.EnterWriteLock();
        try
        {
            _hnsw?.Dispose();
            _hnsw = null;
            var g = NewGraph();
            g.Reserve(Math.Max(_count, 1) + 1024);
            for (int i = 0; i < _count; i++)
                if (!_dead[i]) g.Add(i, _matrix.AsSpan(i * _dim, _dim));
            _hnsw = g;
            if (!_options.KeepVectors) _matrix = null;
        }
        finally { if (locked) _lock.ExitWriteLock(); }
    }

    private HnswGraph NewGraph() => new(_dim, _options.Connectivity, _options.ExpansionAdd, _options.ExpansionSearch);

    /// <summary>The graph as bytes (USearch's serialisation: codes, links, row numbers); null without a graph.</summary>
    public byte[]? SerializeGraph()
    {
        _lock.EnterReadLock();
        try { return _hnsw?.Serialize(); }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>
    /// Takes a graph serialised by <see cref="SerializeGraph"/> of exactly the live rows this index holds instead of
    /// building one; false (and
    /// nothing changed) when the bytes are not a graph of that many live vectors of this size. The float vectors then leave
    /// memory unless <see cref="FaceIndexOptions.KeepVectors"/>.
    /// </summary>
    public bool TakeGraph(ReadOnlySpan<byte> bytes)
    {
        HnswGraph g;
        try { g = HnswGraph.Deserialize(bytes, _dim, _options.Connectivity, _options.ExpansionAdd, _options.ExpansionSearch); }
        catch (InvalidOperationException) { return false; } // not a graph, or of another size: rebuild instead
        _lock.EnterWriteLock();
        try
        {
            if (g.Size < Count)
            {
                g.Dispose();
                return false;
            }
            g.Scrubs = g.Size - Count;
            _hnsw?.Dispose();
            _hnsw = g;
            if (!_options.KeepVectors) _matrix = null;
            return true;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>
    /// A compact index made from a saved graph alone (no float vectors ever in memory): <paramref name="rows"/> rows, the
    /// <paramref name="removed"/> ones dead. Null when the bytes are not a graph of the live rows' count.
    /// </summary>
    public static FaceIndex? FromGraph(int dimensions, Matching.Metric metric, FaceIndexOptions? options, ReadOnlySpan<byte> bytes, int rows,
        IReadOnlyCollection<int> removed)
    {
        var index = new FaceIndex(dimensions, metric, (options ?? new FaceIndexOptions()) with { KeepVectors = false, BuildOnAdd = false })
        {
            _matrix = null,
        };
        index._dead = new bool[Math.Max(1024, rows)];
        index._count = rows;
        foreach (var r in removed)
            if (r >= 0 && r < rows && !index._dead[r]) { index._dead[r] = true; index._deadCount++; }
        HnswGraph g;
        try { g = HnswGraph.Deserialize(bytes, dimensions, index._options.Connectivity, index._options.ExpansionAdd, index._options.ExpansionSearch); }
        catch (InvalidOperationException)
        {
            index.Dispose();
            return null;
        }
        if (g.Size < index.Count)
        {
            g.Dispose();
            index.Dispose();
            return null;
        }
        g.Scrubs = g.Size - index.Count; // erased faces' slots, taken by scrub vectors
        index._hnsw = g;
        return index;
    }

    /// <summary>Writes the HNSW graph (if built) to <paramref name="path"/>, atomically, readable by its owner only.</summary>
    public void SaveGraph(string path)
    {
        var bytes = SerializeGraph();
        if (bytes is null) return;
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, bytes);
        AtomicFile.MakeOwnerOnly(tmp); // copies of the faces: as private as the gallery
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Takes a graph saved by <see cref="SaveGraph"/> for exactly these faces instead of building one; false (and nothing changed) when it is not.</summary>
    public bool LoadGraph(string path) => File.Exists(path) && TakeGraph(File.ReadAllBytes(path));

    /// <summary>
    /// The <paramref name="k"/> nearest faces, nearest first; <paramref name="candidates"/> overrides <see cref="FaceIndexOptions.MinCandidates"/>.
    /// A compact index (<see cref="IsExact"/> false) ranks by the codes and gives their distances: the caller re-ranks.
    /// </summary>
    public Neighbor[] Search(ReadOnlySpan<float> query, int k, int? candidates = null)
    {
        if (query.Length != _dim) throw new ArgumentException($"query of {query.Length} values in a {_dim}-d index");
        _lock.EnterReadLock();
        try
        {
            if (Count == 0 || k <= 0) return [];
            if (_hnsw is not null) return SearchGraph(query, Math.Min(k, Count), candidates ?? _options.MinCandidates);
            return Exact(query, k);
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The exact answer by a full scan, whatever the size (the float vectors must be in memory).</summary>
    public Neighbor[] SearchExact(ReadOnlySpan<float> query, int k)
    {
        if (query.Length != _dim) throw new ArgumentException($"query of {query.Length} values in a {_dim}-d index");
        _lock.EnterReadLock();
        try { return Exact(query, k); }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>A copy of a row's embedding (zeros once removed); the float vectors must be in memory (<see cref="HasVectors"/>).</summary>
    public float[] Vector(int row)
    {
        _lock.EnterReadLock();
        try
        {
            if (row < 0 || row >= _count) throw new ArgumentOutOfRangeException(nameof(row));
            return Matrix.AsSpan(row * _dim, _dim).ToArray();
        }
        finally { _lock.ExitReadLock(); }
    }

    private float[] Matrix => _matrix ?? throw new InvalidOperationException("a compact index holds no float vectors: read them from the store");

    /// <summary>The mean distance from the query to the given rows (a subject's faces); the caller holds no lock. Needs the float vectors.</summary>
    public double MeanDistance(ReadOnlySpan<float> query, IReadOnlyList<int> rows)
    {
        _lock.EnterReadLock();
        try
        {
            var m = Matrix;
            double sum = 0;
            int n = 0;
            foreach (var r in rows)
            {
                if (r < 0 || r >= _count || _dead[r]) continue;
                sum += ToDistance(Dot(m.AsSpan(r * _dim, _dim), query));
                n++;
            }
            return n == 0 ? double.PositiveInfinity : sum / n;
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The distance between a query and a vector under the index's metric (both unit length): what every exact answer gives.</summary>
    public float Distance(ReadOnlySpan<float> query, ReadOnlySpan<float> vector) => ToDistance(Dot(vector, query));

    /// <summary>The distance between two unit vectors under <paramref name="metric"/>, as an exact search computes it.</summary>
    public static float Distance(Matching.Metric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float cos = Dot(b, a);
        return metric == Matching.Metric.Euclidean ? MathF.Sqrt(MathF.Max(0, 2 - 2 * cos)) : 1 - cos;
    }

    private Neighbor[] Exact(ReadOnlySpan<float> query, int k)
    {
        var matrix = Matrix;
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
                DotRows(matrix, start, n, _dim, q, scores);
                float worst = best.Worst;
                for (int i = 0; i < n; i++)
                    if (-scores[i] < worst && !_dead[start + i]) { best.Offer(start + i, -scores[i]); worst = best.Worst; }
            }
            partial[p] = best.Items();
        });
        return partial.SelectMany(x => x).OrderBy(n => n.Distance).Take(k).Select(n => new Neighbor(n.Index, ToDistance(-n.Distance))).ToArray();
    }

    /// <summary>scores[i] = matrix row (start + i) · q (<see cref="Dot"/>, the same sums in the same order).</summary>
    private static unsafe void DotRows(float[] matrix, int start, int rows, int dim, float[] q, float[] scores)
    {
        for (int r = 0; r < rows; r++) scores[r] = Dot(matrix.AsSpan((start + r) * dim, dim), q);
    }

    /// <summary>
    /// a · b with 256-bit SIMD when the CPU has it: the one dot product of every exact distance (the full scan and the
    /// re-ranking from the store alike), so that the two give the same float to the last bit.
    /// </summary>
    public static unsafe float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int dim = a.Length;
        if (b.Length != dim) throw new ArgumentException("vectors of different lengths");
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated || dim % 16 != 0) return TensorPrimitives.Dot(a, b);
        fixed (float* row = a, qp = b)
        {
            var a0 = System.Runtime.Intrinsics.Vector256<float>.Zero;
            var a1 = System.Runtime.Intrinsics.Vector256<float>.Zero;
            for (int d = 0; d < dim; d += 16)
            {
                a0 += System.Runtime.Intrinsics.Vector256.Load(row + d) * System.Runtime.Intrinsics.Vector256.Load(qp + d);
                a1 += System.Runtime.Intrinsics.Vector256.Load(row + d + 8) * System.Runtime.Intrinsics.Vector256.Load(qp + d + 8);
            }
            return System.Runtime.Intrinsics.Vector256.Sum(a0 + a1);
        }
    }

    private Neighbor[] SearchGraph(ReadOnlySpan<float> query, int k, int candidates)
    {
        int ask = (int)Math.Min(Count + _hnsw!.Scrubs, Math.Max(k, candidates));
        var keys = new long[ask];
        var distances = new float[ask];
        int found = _hnsw.Search(query, ask, keys, distances);
        // scrub vectors (erased faces' slots) are not rows
        int kept = 0;
        for (int i = 0; i < found; i++)
            if (!HnswGraph.IsScrub(keys[i])) { keys[kept] = keys[i]; distances[kept] = distances[i]; kept++; }
        found = kept;
        if (_matrix is { } m)
        {
            // the float vectors are here: the candidates re-ranked exactly
            var exact = new Neighbor[found];
            for (int i = 0; i < found; i++) exact[i] = new Neighbor((int)keys[i], ToDistance(Dot(m.AsSpan((int)keys[i] * _dim, _dim), query)));
            return [.. exact.OrderBy(n => n.Distance).ThenBy(n => n.Index).Take(k)];
        }
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
        _hnsw = null;
        _lock.Dispose();
    }
}
