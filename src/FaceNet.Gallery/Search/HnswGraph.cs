using System.Runtime.InteropServices;

namespace FaceNet.Gallery;

/// <summary>
/// An HNSW graph over int8 codes of unit vectors: USearch's native library (the one the Cloud.Unum.USearch
/// package ships), called through its C API for what the package's managed binding leaves out — int8
/// quantisation with the scalar kind of the query given, saving to and loading from memory (so that a saved
/// graph can be encrypted and decrypted without ever being a plain file), the memory it uses and its thread
/// contexts. Keys are the caller's row numbers. Distances are cosine distances between the int8 codes: an
/// approximation of the float distance, good for ranking candidates, never an answer's number.
/// <para>Not thread-safe for writes: one thread adds or removes at a time, while no search runs (FaceIndex's lock).</para>
/// </summary>
internal sealed class HnswGraph : IDisposable
{
    private const string Library = "libusearch_c";
    private const int MetricCos = 1, ScalarF32 = 1, ScalarI8 = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct InitOptions
    {
        public int MetricKind;
        public IntPtr Metric;
        public int Quantization;
        public UIntPtr Dimensions;
        public UIntPtr Connectivity;
        public UIntPtr ExpansionAdd;
        public UIntPtr ExpansionSearch;
        [MarshalAs(UnmanagedType.I1)] public bool Multi;
    }

#pragma warning disable SYSLIB1054 // plain blittable signatures: DllImport marshals nothing here
    [DllImport(Library)] private static extern IntPtr usearch_init(ref InitOptions options, out IntPtr error);
    [DllImport(Library)] private static extern void usearch_free(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern unsafe void usearch_add(IntPtr index, ulong key, float* vector, int kind, out IntPtr error);
    [DllImport(Library)] private static extern unsafe UIntPtr usearch_get(IntPtr index, ulong key, UIntPtr count, sbyte* vector, int kind, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_remove(IntPtr index, ulong key, out IntPtr error);
    [DllImport(Library)] private static extern unsafe UIntPtr usearch_search(IntPtr index, float* query, int kind, UIntPtr count, ulong* keys, float* distances, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_size(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_capacity(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_dimensions(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_memory_usage(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern UIntPtr usearch_serialized_length(IntPtr index, out IntPtr error);
    [DllImport(Library)] private static extern unsafe void usearch_save_buffer(IntPtr index, byte* buffer, UIntPtr length, out IntPtr error);
    [DllImport(Library)] private static extern unsafe void usearch_load_buffer(IntPtr index, byte* buffer, UIntPtr length, out IntPtr error);
    [DllImport(Library)] private static extern void usearch_reserve(IntPtr index, UIntPtr capacity, out IntPtr error);
    [DllImport(Library)] private static extern void usearch_change_threads_add(IntPtr index, UIntPtr threads, out IntPtr error);
    [DllImport(Library)] private static extern void usearch_change_threads_search(IntPtr index, UIntPtr threads, out IntPtr error);
    [DllImport(Library)] private static extern void usearch_change_expansion_search(IntPtr index, UIntPtr expansion, out IntPtr error);
#pragma warning restore SYSLIB1054

    private IntPtr _index;
    private readonly int _dim;

    /// <summary>Search threads the graph has a context for: more at once fail inside USearch, so callers wait on <see cref="Searches"/>.</summary>
    public static int SearchThreads { get; } = Math.Max(4, Environment.ProcessorCount);

    /// <summary>The gate for concurrent searches (one USearch context each).</summary>
    public SemaphoreSlim Searches { get; } = new(SearchThreads);

    public HnswGraph(int dimensions, int connectivity, int expansionAdd, int expansionSearch)
    {
        _dim = dimensions;
        var o = new InitOptions
        {
            MetricKind = MetricCos, Quantization = ScalarI8, Dimensions = (UIntPtr)dimensions, Connectivity = (UIntPtr)connectivity,
            ExpansionAdd = (UIntPtr)expansionAdd, ExpansionSearch = (UIntPtr)expansionSearch, Multi = false,
        };
        _index = usearch_init(ref o, out var error);
        Check(error);
        if (_index == IntPtr.Zero) throw new InvalidOperationException("USearch: index not created");
        usearch_change_threads_search(_index, (UIntPtr)SearchThreads, out error);
        Check(error);
        usearch_change_threads_add(_index, (UIntPtr)1, out error);
        Check(error);
    }

    private static void Check(IntPtr error)
    {
        if (error != IntPtr.Zero) throw new InvalidOperationException("USearch: " + Marshal.PtrToStringAnsi(error));
    }

    private IntPtr Handle => _index != IntPtr.Zero ? _index : throw new ObjectDisposedException(nameof(HnswGraph));

    /// <summary>Vectors held (removed ones not counted).</summary>
    public long Size => (long)usearch_size(Handle, out var e) is var n && e == IntPtr.Zero ? n : throw new InvalidOperationException("USearch: size");

    public int Dimensions => (int)usearch_dimensions(Handle, out _);

    /// <summary>Bytes the graph holds in memory (codes and links).</summary>
    public long MemoryBytes => (long)usearch_memory_usage(Handle, out _);

    /// <summary>Makes room for <paramref name="capacity"/> vectors in all (spares a reallocation per doubling).</summary>
    public void Reserve(long capacity)
    {
        usearch_reserve(Handle, (UIntPtr)capacity, out var e);
        Check(e);
    }

    /// <summary>Threads that may add at once (1 unless a build spreads over cores).</summary>
    public void AddThreads(int threads)
    {
        usearch_change_threads_add(Handle, (UIntPtr)threads, out var e);
        Check(e);
    }

    public void ExpansionSearch(int ef)
    {
        usearch_change_expansion_search(Handle, (UIntPtr)ef, out var e);
        Check(e);
    }

    public unsafe void Add(long key, ReadOnlySpan<float> vector)
    {
        if (vector.Length != _dim) throw new ArgumentException($"vector of {vector.Length} values in a {_dim}-d graph");
        // USearch does not grow by itself, and an add that finds it full fails for good: room is made before, by half again
        long capacity = (long)usearch_capacity(Handle, out _);
        if (Size + 1 >= capacity) Reserve(Math.Max(1024, capacity + capacity / 2 + 1));
        fixed (float* v = vector)
        {
            usearch_add(Handle, (ulong)key, v, ScalarF32, out var e);
            Check(e);
        }
    }

    /// <summary>
    /// Removes keys, and their codes with them: USearch only marks a removed vector (its bytes stay in memory and in what
    /// <see cref="Serialize"/> writes), so each freed slot is taken again at once by a scrub vector (under a key no row has:
    /// <see cref="IsScrub"/>), which stays: what is left of an erased face in the graph is the scrub vector's code. Each
    /// scrub vector is a random direction, drawn afresh: the links that led to the erased face now lead somewhere else
    /// in the graph, from where a search goes on. (One constant for every scrub made them a clique of equal points that
    /// the links of erased faces led into and no search left: with 100 people enrolled and then 1,500 newcomers of whom
    /// 1,000 were erased again (2,000 faces), 315 of the 600 people left were not found by their own centre; none with
    /// random directions (CompactSearchTests). Removing the scrub vector in
    /// turn leaves a graph whose searches can come back empty.)
    /// </summary>
    public void Remove(IReadOnlyCollection<long> keys)
    {
        int removed = 0;
        foreach (var key in keys)
        {
            usearch_remove(Handle, (ulong)key, out var e);
            Check(e);
            removed++;
        }
        if (removed == 0) return;
        var scrub = new float[_dim];
        for (int i = 0; i < removed; i++)
        {
            // a random direction: nothing of any face, and not where the other scrub vectors are
            for (int d = 0; d < _dim; d++) scrub[d] = (float)(_scrubDirections.NextDouble() * 2 - 1);
            Embedding.L2.NormalizeInPlace(scrub);
            Add(ScrubKey - Scrubs++, scrub);
        }
    }

    // seeded, so that a graph's behaviour can be replayed; used under FaceIndex's write lock only
    private readonly Random _scrubDirections = new(20261206);

    /// <summary>Scrub vectors the graph holds (see <see cref="Remove"/>); a graph read back counts them as its vectors beyond the live rows.</summary>
    public long Scrubs { get; set; }

    // keys no row ever has (rows are ints)
    private const long ScrubKey = long.MaxValue - 1;

    /// <summary>Whether a key found is a scrub vector's, not a row's.</summary>
    public static bool IsScrub(long key) => key > int.MaxValue || key < 0;

    /// <summary>The <paramref name="count"/> nearest keys with their code distances (cosine distance), nearest first.</summary>
    public unsafe int Search(ReadOnlySpan<float> query, int count, Span<long> keys, Span<float> distances)
    {
        if (count <= 0) return 0;
        Searches.Wait();
        try
        {
            fixed (float* q = query)
            fixed (long* k = keys)
            fixed (float* d = distances)
            {
                var n = usearch_search(Handle, q, ScalarF32, (UIntPtr)count, (ulong*)k, d, out var e);
                Check(e);
                return (int)n;
            }
        }
        finally { Searches.Release(); }
    }

    /// <summary>The int8 code the graph holds for a key (null when it holds none): what a saved graph would hold of that face.</summary>
    public unsafe sbyte[]? Code(long key)
    {
        var code = new sbyte[_dim];
        fixed (sbyte* c = code)
        {
            var n = usearch_get(Handle, (ulong)key, (UIntPtr)1, c, ScalarI8, out var e);
            Check(e);
            return n == 0 ? null : code;
        }
    }

    /// <summary>The graph as USearch serialises it (codes, links, keys), into memory.</summary>
    public unsafe byte[] Serialize()
    {
        long length = (long)usearch_serialized_length(Handle, out var e);
        Check(e);
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)length));
        fixed (byte* b = bytes) usearch_save_buffer(Handle, b, (UIntPtr)length, out e);
        Check(e);
        return bytes;
    }

    /// <summary>A graph read back from <see cref="Serialize"/>'s bytes (copied: the bytes can be wiped after); throws when they are not one.</summary>
    public static unsafe HnswGraph Deserialize(ReadOnlySpan<byte> bytes, int dimensions, int connectivity, int expansionAdd, int expansionSearch)
    {
        var g = new HnswGraph(dimensions, connectivity, expansionAdd, expansionSearch);
        try
        {
            IntPtr e;
            fixed (byte* b = bytes) usearch_load_buffer(g.Handle, b, (UIntPtr)bytes.Length, out e);
            Check(e);
            g.Reserve(g.Size + Math.Max(1024, g.Size / 2)); // room for what the feed brings
            if (g.Dimensions != dimensions) throw new InvalidOperationException($"USearch: a {g.Dimensions}-d graph where {dimensions} were expected");
            usearch_change_threads_search(g.Handle, (UIntPtr)SearchThreads, out var e2);
            Check(e2);
            usearch_change_threads_add(g.Handle, (UIntPtr)1, out e2);
            Check(e2);
            return g;
        }
        catch
        {
            g.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_index != IntPtr.Zero)
        {
            usearch_free(_index, out _);
            _index = IntPtr.Zero;
        }
        Searches.Dispose();
    }
}
