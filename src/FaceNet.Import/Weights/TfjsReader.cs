using System.Buffers.Binary;
using System.Text.Json;

namespace FaceNet.Import.Weights;

/// <summary>
/// Reads TensorFlow.js weights: a <c>*-weights_manifest.json</c> listing groups of tensors (name, shape,
/// dtype, optional quantisation) and the binary shard files that hold them back to back. Quantised
/// tensors (uint8/uint16 with <c>scale</c> and <c>min</c>, or float16) are restored to float32:
/// value = q·scale + min.
/// </summary>
public static class TfjsReader
{
    public static WeightSet Read(string manifestPath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath)); }
        catch (JsonException e) { throw new WeightsException(manifestPath, "not a TF.js weights manifest (invalid JSON: " + e.Message + ")", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightsException(manifestPath,
            e is FileNotFoundException ? "file not found" : e.Message, e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new WeightsException(manifestPath,
                "not a TF.js weights manifest (expected a JSON array of weight groups)");
            return new WeightSet(manifestPath, WeightFormat.Tfjs, ReadManifest(manifestPath, doc.RootElement));
        }
    }

    /// <summary>The tensors of a weights manifest (a JSON array of groups), its shards next to <paramref name="file"/>.</summary>
    internal static List<NamedTensor> ReadManifest(string file, JsonElement manifest)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var tensors = new List<NamedTensor>();
        foreach (var group in manifest.EnumerateArray())
        {
            try { tensors.AddRange(ReadGroup(file, dir, group)); }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new WeightsException(file, "malformed TF.js weights manifest (" + e.Message + ")", e);
            }
        }
        return tensors;
    }

    private static IEnumerable<NamedTensor> ReadGroup(string manifestPath, string dir, JsonElement group)
    {
        using var data = new MemoryStream();
        foreach (var p in group.GetProperty("paths").EnumerateArray())
        {
            var name = p.GetString() ?? "";
            if (name.Contains("..") || Path.IsPathRooted(name)) throw new WeightsException(manifestPath, $"shard path '{name}' leaves the manifest's folder");
            var shard = Path.Combine(dir, name);
            if (!File.Exists(shard)) throw new WeightsException(manifestPath, $"weight shard '{name}' not found next to the manifest");
            using var f = File.OpenRead(shard);
            f.CopyTo(data);
        }
        var bytes = data.GetBuffer().AsSpan(0, (int)data.Length);
        int offset = 0;
        var result = new List<NamedTensor>();
        foreach (var w in group.GetProperty("weights").EnumerateArray())
        {
            var name = w.GetProperty("name").GetString()!;
            var shape = w.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            if (shape.Any(d => d < 0)) throw new WeightsException(manifestPath, $"tensor '{name}': negative dimension in shape [{string.Join(",", shape)}]");
            // The product is checked against the shard bytes before anything of that size is allocated.
            long count = 1;
            foreach (var d in shape) count = count > bytes.Length ? count : count * d;
            var dtype = w.GetProperty("dtype").GetString();
            if (w.TryGetProperty("quantization", out var q))
            {
                var qtype = q.GetProperty("dtype").GetString();
                int size = qtype switch { "uint8" => 1, "uint16" => 2, "float16" => 2,
                    _ => throw new WeightsException(manifestPath, $"tensor '{name}': unsupported quantisation {qtype}") };
                Need(manifestPath, name, bytes, offset, count * size);
                var values = new float[count];
                if (qtype == "float16")
                    for (int i = 0; i < count; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(offset + 2 * i)..]);
                else
                {
                    // in double, then rounded once, as TensorFlow.js's decodeWeights does (its scale and min are JS numbers)
                    double scale = q.GetProperty("scale").GetDouble(), min = q.GetProperty("min").GetDouble();
                    for (int i = 0; i < count; i++)
                        values[i] = (float)((size == 1 ? bytes[offset + i] : BinaryPrimitives.ReadUInt16LittleEndian(bytes[(offset + 2 * i)..])) * scale + min);
                }
                var raw = size == 1 && qtype == "uint8" ? bytes.Slice(offset, (int)count).ToArray() : null;
                offset += (int)(count * size);
                result.Add(new NamedTensor(name, shape, values) { Uint8 = raw is null ? null : (raw,
                    q.GetProperty("scale").GetDouble(), q.GetProperty("min").GetDouble()) });
            }
            else
            {
                if (dtype is not ("float32" or "int32")) throw new WeightsException(manifestPath, $"tensor '{name}': unsupported dtype {dtype}");
                Need(manifestPath, name, bytes, offset, count * 4);
                var values = new float[count];
                for (int i = 0; i < count; i++)
                    values[i] = dtype == "float32" ? BinaryPrimitives.ReadSingleLittleEndian(bytes[(offset
                        + 4 * i)..]) : BinaryPrimitives.ReadInt32LittleEndian(bytes[(offset + 4 * i)..]);
                offset += (int)(count * 4);
                result.Add(new NamedTensor(name, shape, values));
            }
        }
        if (offset != bytes.Length) throw new WeightsException(manifestPath, $"the shards hold {bytes.Length} bytes but the manifest describes {offset}");
        return result;
    }

    private static void Need(string path, string name, ReadOnlySpan<byte> bytes, int offset, long length)
    {
        if (offset + length > bytes.Length) throw new WeightsException(path, $"tensor '{name}' runs past the end of the weight shards (truncated?)");
    }
}
