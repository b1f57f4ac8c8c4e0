using System.Buffers.Binary;
using System.Text.Json;

namespace FaceNet.Import.Weights;

/// <summary>
/// Reads safetensors: an 8-byte little-endian header length, a JSON header
/// (<c>name → {dtype, shape, data_offsets}</c>), then the raw little-endian tensor bytes.
/// F32, F16, BF16 and F64 are converted to float32.
/// </summary>
public static class SafetensorsReader
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static WeightSet Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightsException(path, e.Message, e); }
        return new WeightSet(path, WeightFormat.Safetensors, Parse(path, bytes));
    }

    internal static List<NamedTensor> Parse(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 8) throw new WeightsException(path, "not a safetensors file (shorter than its 8-byte header length)");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > bytes.Length)
            throw new WeightsException(path, $"not a safetensors file (header length {headerLength} does not fit a {bytes.Length}-byte file)");
        var data = bytes[(int)(8 + headerLength)..];
        var tensors = new List<NamedTensor>();
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.Slice(8, (int)headerLength).ToArray()); }
        catch (JsonException e) { throw new WeightsException(path, "not a safetensors file (header is not JSON: " + e.Message + ")", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new WeightsException(path, "safetensors header is not a JSON object");
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                try { tensors.Add(ReadTensor(path, entry, data)); }
                catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
                {
                    throw new WeightsException(path, $"tensor '{entry.Name}': malformed header entry ({e.Message})", e);
                }
            }
        }
        return tensors;
    }

    private static NamedTensor ReadTensor(string path, JsonProperty entry, ReadOnlySpan<byte> data)
    {
        var dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
        var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => checked((int)e.GetInt64())).ToArray();
        var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        long count = 1;
        foreach (var d in shape) count = checked(count * d);
        if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data.Length)
            throw new WeightsException(path, $"tensor '{entry.Name}': data offsets [{string.Join(",", offsets)}] lie outside the file (truncated?)");
        var raw = data[(int)offsets[0]..(int)offsets[1]];
        var values = TensorBytes.ToFloat32(path, entry.Name, dtype, raw, count);
        return new NamedTensor(entry.Name, shape, values);
    }
}

/// <summary>Little-endian element decoding shared by the weight readers.</summary>
internal static class TensorBytes
{
    public static float[] ToFloat32(string path, string name, string dtype, ReadOnlySpan<byte> raw, long count)
    {
        int size = dtype switch { "F32" => 4, "F16" => 2, "BF16" => 2, "F64" => 8, _ => 0 };
        if (size == 0) throw new WeightsException(path, $"tensor '{name}': unsupported dtype {dtype} (float tensors expected)");
        if (raw.Length != count * size)
            throw new WeightsException(path, $"tensor '{name}': {raw.Length} bytes for {count} {dtype} values (truncated or corrupt)");
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            var b = raw.Slice(i * size, size);
            values[i] = dtype switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(b),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
                "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
                _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
            };
        }
        return values;
    }
}
