namespace FaceNet.Gallery;

/// <summary>Options of <see cref="FaceIndex"/>.</summary>
public sealed record FaceIndexOptions
{
    /// <summary>
    /// From this many faces on, searches go through the HNSW graph over int8 codes instead of the exact scan of the
    /// float vectors (and, unless <see cref="KeepVectors"/>, the float vectors leave memory). An exact scan of 10,000
    /// faces of 256 values reads 10 MB (about 1–2 ms on 2 cores); the graph answers in a fraction of a millisecond
    /// but its candidates must be re-ranked from the store.
    /// </summary>
    public int ApproximateFrom { get; init; } = 10_000;
    /// <summary>
    /// HNSW graph degree (M). 32 over int8 codes: over 62,500 face-like faces and 1,165 real LFW people planted among them, a
    /// search of 256 candidates by each person's other photo found the exact nearest face for 1,164 (M 16: 1,146, M 24:
    /// 1,156), at 2.0 ms instead of 1.3; the links cost 128 B a face more than M 16 (see docs/cluster.md).
    /// </summary>
    public int Connectivity { get; init; } = 32;
    /// <summary>Candidate list while building (efConstruction): 128 (at M 16, 64 found 1,141 of the 1,165 above and 128 found 1,146).</summary>
    public int ExpansionAdd { get; init; } = 128;
    /// <summary>Candidate list while searching (ef); larger is slower and more exact.</summary>
    public int ExpansionSearch { get; init; } = 64;
    /// <summary>
    /// Neighbours asked of the graph per search, whatever k (the search's candidate list is at least
    /// this long, so it acts as a larger ef); the best k of them are returned.
    /// </summary>
    public int MinCandidates { get; init; } = 256;
    /// <summary>Build the graph as soon as <see cref="ApproximateFrom"/> faces are added (off when a saved graph is loaded instead).</summary>
    public bool BuildOnAdd { get; init; } = true;
    /// <summary>
    /// Keep the float vectors in memory beside the graph's codes (4× the memory): the graph's candidates are then
    /// re-ranked from memory and <see cref="FaceIndex.Search"/> gives exact distances. Off by default: a gallery or a
    /// shard re-ranks its candidates from its store.
    /// </summary>
    public bool KeepVectors { get; init; }
}
