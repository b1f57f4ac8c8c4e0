namespace FaceNet.Import.Weights;

/// <summary>All tensors of one weight file, by name.</summary>
public sealed class WeightSet
{
    private readonly Dictionary<string, NamedTensor> _tensors;

    public WeightSet(string source, WeightFormat format, IEnumerable<NamedTensor> tensors)
    {
        Source = source;
        Format = format;
        _tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var t in tensors) _tensors[t.Name] = t;
    }

    public string Source { get; }
    public WeightFormat Format { get; }
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    public int Count => _tensors.Count;

    public bool TryGet(string name, out NamedTensor tensor) => _tensors.TryGetValue(name, out tensor!);
}
