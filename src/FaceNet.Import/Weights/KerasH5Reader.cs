using PureHDF;

namespace FaceNet.Import.Weights;

/// <summary>
/// Reads Keras HDF5 weights (the seed's <c>facenet_keras.h5</c>): either a full saved model, whose
/// weights sit under the group <c>model_weights</c>, or a weights-only file with the same layout at
/// the root. Each layer group lists its datasets in the attribute <c>weight_names</c>
/// (e.g. <c>Conv2d_1a_3x3/kernel:0</c>); tensors are named <c>layer/kernel</c>, <c>layer/beta</c>, ….
/// </summary>
public static class KerasH5Reader
{
    private static readonly byte[] Hdf5Signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

    public static WeightSet Read(string path)
    {
        if (!LooksLikeHdf5(path)) throw new WeightsException(path, "not an HDF5 file (no HDF5 signature)");
        try
        {
            using var file = H5File.OpenRead(path);
            IH5Group root = file.LinkExists("model_weights") ? file.Group("model_weights") : file;
            var tensors = new List<NamedTensor>();
            foreach (var layer in LayerNames(root))
            {
                if (!root.LinkExists(layer)) throw new WeightsException(path, $"layer '{layer}' is listed in layer_names but has no group");
                var group = root.Group(layer);
                foreach (var weightPath in WeightNames(group))
                {
                    var dataset = group.Dataset(weightPath);
                    var leaf = weightPath[(weightPath.LastIndexOf('/') + 1)..];
                    var colon = leaf.IndexOf(':');
                    if (colon >= 0) leaf = leaf[..colon];
                    var shape = dataset.Space.Dimensions.Select(d => checked((int)d)).ToArray();
                    var data = ReadFloats(dataset);
                    long expected = shape.Aggregate(1L, (a, b) => a * b);
                    if (data.Length != expected)
                        throw new WeightsException(path, $"dataset {layer}/{weightPath} holds {data.Length} values for shape [{string.Join(",", shape)}]");
                    tensors.Add(new NamedTensor(layer + "/" + leaf, shape, data));
                }
            }
            if (tensors.Count == 0) throw new WeightsException(path, "HDF5 file holds no Keras layer weights");
            return new WeightSet(path, WeightFormat.Keras, tensors);
        }
        catch (WeightsException) { throw; }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // PureHDF reports corrupt or truncated structures with a range of exception types.
            throw new WeightsException(path, "unreadable HDF5 file (" + FirstLine(e.Message) + ")", e);
        }
    }

    private static bool LooksLikeHdf5(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            Span<byte> head = stackalloc byte[8];
            // The superblock may also sit at 512, 1024, … when a user block precedes it.
            for (long offset = 0; offset + 8 <= s.Length && offset <= 1 << 20; offset = offset == 0 ? 512 : offset * 2)
            {
                s.Position = offset;
                s.ReadExactly(head);
                if (head.SequenceEqual(Hdf5Signature)) return true;
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightsException(path, e.Message, e);
        }
    }

    private static IEnumerable<string> LayerNames(IH5Group root)
    {
        if (root.AttributeExists("layer_names")) return ReadStrings(root.Attribute("layer_names"));
        return root.Children().OfType<IH5Group>().Select(g => g.Name);
    }

    private static IEnumerable<string> WeightNames(IH5Group layer)
    {
        if (layer.AttributeExists("weight_names")) return ReadStrings(layer.Attribute("weight_names"));
        var names = new List<string>();
        void Walk(IH5Group g, string prefix)
        {
            foreach (var child in g.Children())
            {
                if (child is IH5Dataset) names.Add(prefix + child.Name);
                else if (child is IH5Group sub) Walk(sub, prefix + child.Name + "/");
            }
        }
        Walk(layer, "");
        return names;
    }

    private static string[] ReadStrings(IH5Attribute attribute)
    {
        // Keras writes numpy fixed-length byte strings; other writers use variable-length strings.
        var values = attribute.Read<string[]>();
        return values.Select(v => v.TrimEnd('\0')).Where(v => v.Length > 0).ToArray();
    }

    private static float[] ReadFloats(IH5Dataset dataset)
    {
        if (dataset.Type.Class == H5DataTypeClass.FloatingPoint && dataset.Type.Size == 8)
            return dataset.Read<double[]>().Select(v => (float)v).ToArray();
        if (dataset.Type.Class != H5DataTypeClass.FloatingPoint || dataset.Type.Size != 4)
            throw new InvalidDataException($"dataset {dataset.Name} is not float32 ({dataset.Type.Class}, {dataset.Type.Size} bytes)");
        return dataset.Read<float[]>();
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
