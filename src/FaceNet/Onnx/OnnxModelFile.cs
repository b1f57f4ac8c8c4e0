using FaceNet.Onnx.Proto;
using Google.Protobuf;

namespace FaceNet.Onnx;

/// <summary>Reads and rewrites the metadata of an existing ONNX file; the graph is carried over untouched.</summary>
internal static class OnnxModelFile
{
    /// <summary>Returns the model with <paramref name="metadata"/> set (existing keys replaced, others kept but those in <paramref name="remove"/>).</summary>
    public static byte[] WithMetadata(byte[] onnx, IEnumerable<KeyValuePair<string, string>> metadata, string file, IEnumerable<string>? remove = null)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(onnx); }
        catch (InvalidProtocolBufferException e) { throw new Embedding.ModelException(file, "not an ONNX model (" + e.Message + ")", e); }
        if (model.Graph is null || model.Graph.Node.Count == 0) throw new Embedding.ModelException(file, "not an ONNX model (no graph)");
        var updates = metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var removed = remove?.ToHashSet(StringComparer.Ordinal) ?? [];
        var kept = model.MetadataProps.Where(p => !updates.ContainsKey(p.Key) && !removed.Contains(p.Key)).ToList();
        model.MetadataProps.Clear();
        model.MetadataProps.AddRange(kept);
        foreach (var (k, v) in updates) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model.ToByteArray();
    }
}
