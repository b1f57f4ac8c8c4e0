using System.Buffers.Binary;
using System.IO.Compression;

namespace FaceNet.Import.Weights;

/// <summary>
/// Reads a PyTorch state dict saved by <c>torch.save</c>: the zip format of torch ≥ 1.6 (an archive
/// holding <c>data.pkl</c> and one raw file per storage) and the legacy format before it (a sequence
/// of pickles followed by the raw storages). The pickle is interpreted by <see cref="SafePickle"/>,
/// which never executes code from the file.
/// </summary>
public static class TorchReader
{
    private static readonly byte[] ZipMagic = [0x50, 0x4b, 0x03, 0x04];
    // torch.serialization.MAGIC_NUMBER, an 80-bit integer at the start of a legacy file.
    private static readonly System.Numerics.BigInteger LegacyMagic = System.Numerics.BigInteger.Parse("01950a86a20f9469cfc6c",
        System.Globalization.NumberStyles.HexNumber);
    private const long MaxStorageBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>The largest weight file read (far above FaceNet's 90 MB): a larger one is refused before it is read.</summary>
    private const long MaxFileBytes = 4L * 1024 * 1024 * 1024;

    public static WeightSet Read(string path)
    {
        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxFileBytes) throw new WeightsException(path, $"file is {length} bytes, larger than any face model's weights ({MaxFileBytes})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightsException(path, e.Message, e); }
        var tensors = bytes.AsSpan().StartsWith(ZipMagic) ? ReadZip(path, bytes) : ReadLegacy(path, bytes);
        return new WeightSet(path, WeightFormat.Torch, tensors);
    }

    private static List<NamedTensor> ReadZip(string path, byte[] bytes)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw new WeightsException(path, "not a valid PyTorch zip archive (" + e.Message + ")", e); }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal))
                ?? throw new WeightsException(path, "PyTorch zip archive without data.pkl (a TorchScript or other archive?)");
            var prefix = pkl.FullName[..^"data.pkl".Length];
            var program = ReadEntry(path, pkl);
            int pos = 0;
            var root = SafePickle.Load(path, program, ref pos);
            return Collect(path, root, storage =>
            {
                var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                    ?? throw new WeightsException(path, $"storage '{storage.Key}' is missing from the archive (truncated file?)");
                return ReadEntry(path, entry);
            });
        }
    }

    private static byte[] ReadEntry(string path, ZipArchiveEntry entry)
    {
        if (entry.Length > MaxStorageBytes) throw new WeightsException(path, $"archive entry {entry.FullName} is too large ({entry.Length} bytes)");
        try
        {
            using var s = entry.Open();
            var buffer = new byte[entry.Length];
            s.ReadExactly(buffer);
            return buffer;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new WeightsException(path, $"archive entry {entry.FullName} is corrupt or truncated", e);
        }
    }

    private static List<NamedTensor> ReadLegacy(string path, byte[] bytes)
    {
        int pos = 0;
        object? magic;
        try { magic = SafePickle.Load(path, bytes, ref pos); }
        catch (WeightsException e) { throw new WeightsException(path, "not a PyTorch file (neither a zip archive nor a legacy torch.save pickle)", e); }
        if (magic is not System.Numerics.BigInteger m || m != LegacyMagic)
            throw new WeightsException(path, "not a PyTorch file (neither a zip archive nor a legacy torch.save pickle)");
        SafePickle.Load(path, bytes, ref pos); // protocol version
        SafePickle.Load(path, bytes, ref pos); // sys_info: little-endian, type sizes
        var root = SafePickle.Load(path, bytes, ref pos);
        var keys = SafePickle.Load(path, bytes, ref pos) as List<object?>
            ?? throw new WeightsException(path, "legacy PyTorch file without its storage key list");
        var storages = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var refs = new Dictionary<string, SafePickle.StorageRef>(StringComparer.Ordinal);
        CollectStorages(root, refs);
        foreach (var keyObject in keys)
        {
            var key = keyObject?.ToString() ?? "";
            if (!refs.TryGetValue(key, out var storage)) throw new WeightsException(path, $"legacy storage '{key}' is not used by any tensor");
            if (pos + 8 > bytes.Length) throw new WeightsException(path, "truncated file (storage data missing)");
            long numel = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(pos)); pos += 8;
            long size = numel * ElementSize(storage.DType);
            if (numel < 0 || size > bytes.Length - pos) throw new WeightsException(path, $"truncated file (storage '{key}' needs {size} bytes)");
            storages[key] = bytes.AsSpan(pos, (int)size).ToArray();
            pos += (int)size;
        }
        return Collect(path, root, s => storages.TryGetValue(s.Key, out var b) ? b
            : throw new WeightsException(path, $"storage '{s.Key}' is missing (truncated file?)"));
    }

    private static void CollectStorages(object? root, Dictionary<string, SafePickle.StorageRef> refs)
    {
        if (root is not SafePickle.Dict dict) return;
        foreach (var (_, v) in dict.Items)
        {
            if (v is SafePickle.TensorRef t) refs[t.Storage.Key] = t.Storage;
            else CollectStorages(v, refs);
        }
    }

    /// <summary>Flattens the state dict (nested dicts get dotted names) into float tensors, following strides.</summary>
    private static List<NamedTensor> Collect(string path, object? root, Func<SafePickle.StorageRef, byte[]> storageBytes)
    {
        if (root is not SafePickle.Dict dict)
            throw new WeightsException(path, "the pickle does not hold a state dict (a whole pickled model is not accepted: save model.state_dict())");
        var result = new List<NamedTensor>();
        var cache = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        void Walk(SafePickle.Dict d, string prefix)
        {
            foreach (var (k, v) in d.Items)
            {
                var name = prefix + (k?.ToString() ?? "");
                switch (v)
                {
                    case SafePickle.TensorRef t:
                        if (!cache.TryGetValue(t.Storage.Key, out var raw)) cache[t.Storage.Key] = raw = storageBytes(t.Storage);
                        result.Add(Materialize(path, name, t, raw));
                        break;
                    case SafePickle.Dict inner:
                        Walk(inner, name + ".");
                        break;
                }
            }
        }
        Walk(dict, "");
        return result;
    }

    /// <summary>The most elements a weight tensor may have (1 GB of floats): far above any face network's largest layer.</summary>
    private const long MaxElements = 1L << 28;

    private static NamedTensor Materialize(string path, string name, SafePickle.TensorRef t, byte[] raw)
    {
        int elem = ElementSize(t.Storage.DType);
        long storageCount = raw.Length / elem;
        // Everything the view claims is checked against its storage before anything is allocated: a
        // hostile file can describe a huge tensor over a tiny storage (stride 0) or overflow the count.
        if (t.Size.Length != t.Stride.Length) throw new WeightsException(path,
            $"tensor '{name}' has {t.Size.Length} sizes but {t.Stride.Length} strides (corrupt file)");
        if (t.Size.Any(d => d < 0) || t.Stride.Any(d => d < 0) || t.Offset < 0)
            throw new WeightsException(path, $"tensor '{name}' has a negative size, stride or offset (corrupt file)");
        long count = 1;
        foreach (var d in t.Size)
        {
            if (d > 0 && count > MaxElements / d) throw new WeightsException(path,
                $"tensor '{name}' claims shape [{string.Join(",", t.Size)}], more than {MaxElements} elements (corrupt or hostile file)");
            count *= d;
        }
        if (count > storageCount)
            throw new WeightsException(path, $"tensor '{name}' claims shape [{string.Join(",", t.Size)}] ({count} elements) over a storage of {storageCount} (corrupt or hostile file)");
        if (count > 0)
        {
            long last = t.Offset;
            for (int d = 0; d < t.Size.Length; d++) last += (t.Size[d] - 1) * t.Stride[d];
            if (last >= storageCount) throw new WeightsException(path, $"tensor '{name}' reads outside its storage (corrupt file)");
        }
        var shape = t.Size.Select(s => (int)s).ToArray();
        var values = new float[count];
        var index = new long[shape.Length];
        for (long i = 0; i < count; i++)
        {
            long src = t.Offset;
            for (int d = 0; d < shape.Length; d++) src += index[d] * t.Stride[d];
            if (src < 0 || src >= storageCount) throw new WeightsException(path, $"tensor '{name}' reads outside its storage (corrupt file)");
            values[i] = ReadElement(raw.AsSpan((int)(src * elem), elem), t.Storage.DType);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return new NamedTensor(name, shape, values);
    }

    private static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        _ => 1,
    };

    private static float ReadElement(ReadOnlySpan<byte> b, string dtype) => dtype switch
    {
        "F32" => BinaryPrimitives.ReadSingleLittleEndian(b),
        "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
        "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
        "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
        "I64" => BinaryPrimitives.ReadInt64LittleEndian(b),
        "I32" => BinaryPrimitives.ReadInt32LittleEndian(b),
        "I16" => BinaryPrimitives.ReadInt16LittleEndian(b),
        "I8" => (sbyte)b[0],
        _ => b[0],
    };
}
