using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FaceNet.Import.Weights;
using PureHDF;

namespace FaceNet.Tests.Weights;

/// <summary>Writers of the weight formats users bring, for the importer tests: Keras HDF5, PyTorch zip .pt, safetensors.</summary>
internal static class WeightFiles
{
    /// <summary>Keras HDF5; <paramref name="fullModel"/> nests the layers under <c>model_weights</c> as model.save() does.</summary>
    public static void WriteKeras(string path, IEnumerable<NamedTensor> tensors, bool fullModel)
    {
        var layers = new H5Group();
        var layerNames = new List<string>();
        foreach (var group in tensors.GroupBy(t => t.Name[..t.Name.IndexOf('/')]))
        {
            var inner = new H5Group();
            var weightNames = new List<string>();
            foreach (var t in group)
            {
                var leaf = t.Name[(t.Name.IndexOf('/') + 1)..] + ":0";
                inner[leaf] = new H5Dataset(t.Data, fileDims: t.Shape.Select(d => (ulong)d).ToArray());
                weightNames.Add(group.Key + "/" + leaf);
            }
            var layer = new H5Group { [group.Key] = inner };
            layer.Attributes["weight_names"] = weightNames.ToArray();
            layers[group.Key] = layer;
            layerNames.Add(group.Key);
        }
        layers.Attributes["layer_names"] = layerNames.ToArray();
        var file = new H5File();
        if (fullModel)
        {
            file["model_weights"] = layers;
            file.Attributes["keras_version"] = "2.1.5";
        }
        else
        {
            foreach (var (k, v) in layers) file[k] = v;
            file.Attributes["layer_names"] = layerNames.ToArray();
        }
        file.Write(path);
    }

    public static void WriteSafetensors(string path, IEnumerable<NamedTensor> tensors)
    {
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        var data = new MemoryStream();
        foreach (var t in tensors)
        {
            long start = data.Length;
            data.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
            header[t.Name] = new { dtype = "F32", shape = t.Shape, data_offsets = new[] { start, data.Length } };
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((long)json.Length));
        f.Write(json);
        data.Position = 0;
        data.CopyTo(f);
    }

    /// <summary>
    /// torch.save's zip format: <c>archive/data.pkl</c> (pickle protocol 2 of an OrderedDict of tensors) and
    /// <c>archive/data/N</c> raw storages. Two-dimensional tensors are stored transposed with swapped
    /// strides, as a non-contiguous tensor would be, so the reader has to follow strides.
    /// </summary>
    public static void WriteTorchZip(string path, IEnumerable<NamedTensor> tensors, string? extraGlobal = null, string payload = "echo pwned")
    {
        var pickle = new PickleWriter();
        var storages = new List<byte[]>();
        pickle.Proto2();
        pickle.Global("collections", "OrderedDict"); pickle.EmptyTuple(); pickle.Reduce();
        pickle.Mark();
        foreach (var t in tensors)
        {
            long[] size = t.Shape.Select(d => (long)d).ToArray();
            long[] stride = Contiguous(size);
            float[] storage = t.Data;
            if (t.Shape.Length == 2)
            {
                int r = t.Shape[0], c = t.Shape[1];
                storage = new float[t.Data.Length];
                for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) storage[j * r + i] = t.Data[i * c + j];
                stride = [1, r];
            }
            string key = storages.Count.ToString();
            storages.Add(MemoryMarshal.AsBytes(storage.AsSpan()).ToArray());
            pickle.Unicode(t.Name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Mark();
            pickle.Mark(); pickle.Unicode("storage"); pickle.Global("torch", "FloatStorage"); pickle.Unicode(key); pickle.Unicode("cpu"); pickle.Int(storage.Length); pickle.Tuple(); pickle.BinPersId();
            pickle.Int(0);
            pickle.Mark(); foreach (var s in size) pickle.Int(s); pickle.Tuple();
            pickle.Mark(); foreach (var s in stride) pickle.Int(s); pickle.Tuple();
            pickle.False();
            pickle.Global("collections", "OrderedDict"); pickle.EmptyTuple(); pickle.Reduce();
            pickle.Tuple();
            pickle.Reduce();
        }
        if (extraGlobal is not null)
        {
            var dot = extraGlobal.LastIndexOf('.');
            pickle.Unicode("payload");
            pickle.Global(extraGlobal[..dot], extraGlobal[(dot + 1)..]);
            pickle.Mark(); pickle.Unicode(payload); pickle.Tuple(); pickle.Reduce();
        }
        pickle.SetItems();
        pickle.Stop();

        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(bytes);
        }
        Add("archive/data.pkl", pickle.ToArray());
        Add("archive/byteorder", "little"u8.ToArray());
        for (int i = 0; i < storages.Count; i++) Add($"archive/data/{i}", storages[i]);
        Add("archive/version", "3\n"u8.ToArray());
    }

    private static long[] Contiguous(long[] size)
    {
        var stride = new long[size.Length];
        long s = 1;
        for (int i = size.Length - 1; i >= 0; i--) { stride[i] = s; s *= size[i]; }
        return stride;
    }

    /// <summary>Emits pickle opcodes, protocol 2, as Python's pickler does for a state dict.</summary>
    internal sealed class PickleWriter
    {
        private readonly MemoryStream _s = new();
        public void Proto2() { _s.WriteByte(0x80); _s.WriteByte(2); }
        public void Global(string module, string name) { _s.WriteByte((byte)'c'); _s.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n")); }
        public void EmptyTuple() => _s.WriteByte((byte)')');
        public void Reduce() => _s.WriteByte((byte)'R');
        public void Mark() => _s.WriteByte((byte)'(');
        public void Tuple() => _s.WriteByte((byte)'t');
        public void SetItems() => _s.WriteByte((byte)'u');
        public void BinPersId() => _s.WriteByte((byte)'Q');
        public void False() => _s.WriteByte(0x89);
        public void Stop() => _s.WriteByte((byte)'.');
        public void Unicode(string v)
        {
            var b = Encoding.UTF8.GetBytes(v);
            _s.WriteByte((byte)'X');
            _s.Write(BitConverter.GetBytes((uint)b.Length));
            _s.Write(b);
        }
        public void Int(long v)
        {
            if (v is >= 0 and < 256) { _s.WriteByte((byte)'K'); _s.WriteByte((byte)v); }
            else if (v is >= int.MinValue and <= int.MaxValue) { _s.WriteByte((byte)'J'); _s.Write(BitConverter.GetBytes((int)v)); }
            else { _s.WriteByte(0x8a); _s.WriteByte(8); _s.Write(BitConverter.GetBytes(v)); }
        }
        public byte[] ToArray() => _s.ToArray();
    }
}
