using FaceNet.Models;
using FaceNet.Tests.Reference;
using FaceNet.Import.Networks;
using FaceNet.Import.Weights;

namespace FaceNet.Tests.Weights;

/// <summary>Random Inception-ResNet-V1 weights in both namings, written once per test run, and the reference embeddings.</summary>
public sealed class NetworkFixture : IDisposable
{
    public const int Size = 160;

    public NetworkFixture()
    {
        Dir = Directory.CreateTempSubdirectory("facenet-weights-").FullName;
        Keras = InceptionResNetV1.RandomWeights(WeightFormat.Keras, 128, seed: 11);
        Torch = InceptionResNetV1.RandomWeights(WeightFormat.Torch, 512, seed: 12);
        KerasFull = Path.Combine(Dir, "facenet_keras.h5");
        KerasWeightsOnly = Path.Combine(Dir, "facenet_keras_weights.h5");
        TorchZip = Path.Combine(Dir, "vggface2.pt");
        Safetensors = Path.Combine(Dir, "vggface2.safetensors");
        WeightFiles.WriteKeras(KerasFull, All(Keras), fullModel: true);
        WeightFiles.WriteKeras(KerasWeightsOnly, All(Keras), fullModel: false);
        WeightFiles.WriteTorchZip(TorchZip, All(Torch));
        WeightFiles.WriteSafetensors(Safetensors, All(Torch));
        Face = TestImages.SyntheticFace(Size, seed: 5);
        _kerasReference = new Lazy<double[]>(() => ReferenceModels.Keras(Keras).Embed(ReferenceNetwork.Prewhiten(Face.Pixels), Size));
        _torchReference = new Lazy<double[]>(() => ReferenceModels.Torch(Torch).Embed(Face.Pixels.Select(b => (b - 127.5) / 128.0).ToArray(), Size));
    }

    private readonly Lazy<double[]> _kerasReference;
    private string? _kerasOnnx;

    /// <summary>The Keras weights imported once to an ONNX file, for the command-line tests.</summary>
    public string KerasOnnx
    {
        get
        {
            lock (this)
            {
                if (_kerasOnnx is null)
                {
                    var path = Path.Combine(Dir, "seed.onnx");
                    WeightImporter.ImportToFile(KerasFull, path);
                    _kerasOnnx = path;
                }
                return _kerasOnnx;
            }
        }
    }
    private readonly Lazy<double[]> _torchReference;

    public string Dir { get; }
    public WeightSet Keras { get; }
    public WeightSet Torch { get; }
    public string KerasFull { get; }
    public string KerasWeightsOnly { get; }
    public string TorchZip { get; }
    public string Safetensors { get; }
    public FaceNet.Imaging.RgbImage Face { get; }

    /// <summary>The reference (double, plain loops) embedding of <see cref="Face"/> with the Keras weights and the seed's prewhiten.</summary>
    public double[] KerasReference => _kerasReference.Value;

    /// <summary>The reference embedding with the facenet-pytorch weights and fixed standardisation.</summary>
    public double[] TorchReference => _torchReference.Value;

    public static IEnumerable<NamedTensor> All(WeightSet w) => w.Names.Select(n => { w.TryGet(n, out var t); return t; });

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition("network")]
public sealed class NetworkCollection : ICollectionFixture<NetworkFixture>;

/// <summary>Binds the reference network to weight sets through its own reading of the two namings.</summary>
internal static class ReferenceModels
{
    public static ReferenceNetwork Keras(WeightSet w)
    {
        double[] D(string name) => Get(w, name).Data.Select(v => (double)v).ToArray();
        return new ReferenceNetwork(
            name =>
            {
                var k = Get(w, name + "/kernel");
                int kh = k.Shape[0], kw = k.Shape[1], ci = k.Shape[2], co = k.Shape[3];
                double Kernel(int y, int x, int i, int o) => k.Data[((y * kw + x) * ci + i) * co + o];
                return w.TryGet(name + "/bias", out _)
                    ? new RefConv(kh, kw, ci, co, Kernel, D(name + "/bias"), null, null, null, null)
                    : new RefConv(kh, kw, ci, co, Kernel, null, null, D(name + "_BatchNorm/beta"), D(name + "_BatchNorm/moving_mean"), D(name + "_BatchNorm/moving_variance"));
            },
            () =>
            {
                var k = Get(w, "Bottleneck/kernel");
                var m = new double[k.Shape[0], k.Shape[1]];
                for (int i = 0; i < k.Shape[0]; i++) for (int o = 0; o < k.Shape[1]; o++) m[i, o] = k.Data[i * k.Shape[1] + o];
                return (m, null, D("Bottleneck_BatchNorm/beta"), D("Bottleneck_BatchNorm/moving_mean"), D("Bottleneck_BatchNorm/moving_variance"));
            });
    }

    public static ReferenceNetwork Torch(WeightSet w)
    {
        double[] D(string name) => Get(w, name).Data.Select(v => (double)v).ToArray();
        return new ReferenceNetwork(
            keras =>
            {
                var (name, hasBias) = TorchName(keras);
                var k = Get(w, hasBias ? name + ".weight" : name + ".conv.weight");
                int co = k.Shape[0], ci = k.Shape[1], kh = k.Shape[2], kw = k.Shape[3];
                double Kernel(int y, int x, int i, int o) => k.Data[((o * ci + i) * kh + y) * kw + x];
                return hasBias
                    ? new RefConv(kh, kw, ci, co, Kernel, D(name + ".bias"), null, null, null, null)
                    : new RefConv(kh, kw, ci, co, Kernel, null, D(name + ".bn.weight"), D(name + ".bn.bias"), D(name + ".bn.running_mean"), D(name + ".bn.running_var"));
            },
            () =>
            {
                var k = Get(w, "last_linear.weight");
                var m = new double[k.Shape[1], k.Shape[0]];
                for (int o = 0; o < k.Shape[0]; o++) for (int i = 0; i < k.Shape[1]; i++) m[i, o] = k.Data[o * k.Shape[1] + i];
                return (m, D("last_bn.weight"), D("last_bn.bias"), D("last_bn.running_mean"), D("last_bn.running_var"));
            });
    }

    /// <summary>facenet-pytorch's module path for a layer of the seed (Keras) network.</summary>
    internal static (string Name, bool Bias) TorchName(string keras)
    {
        var parts = keras.Split('_');
        if (parts[0] == "Conv2d") return ("conv2d_" + parts[1], false);
        string module;
        int rest;
        if (parts[0] is "Mixed") { module = "mixed_" + parts[1]; rest = 2; }
        else
        {
            int block = int.Parse(parts[1]);
            module = parts[0] switch
            {
                "Block35" => $"repeat_1.{block - 1}",
                "Block17" => $"repeat_2.{block - 1}",
                _ => block == 6 ? "block8" : $"repeat_3.{block - 1}",
            };
            rest = 2;
        }
        if (parts[rest] != "Branch") return (module + ".conv2d", true); // the residual 1×1 "up" convolution
        int branch = int.Parse(parts[rest + 1]);
        string conv = parts[rest + 3]; // e.g. 0a, 0b, 1a
        // Each branch is a Sequential, except single-convolution branches (branch0 of the blocks and of Mixed_6a).
        string[] order = (module, branch) switch
        {
            ("mixed_6a", 0) => [],
            ("mixed_6a", 1) => ["0a", "0b", "1a"],
            ("mixed_7a", 2) => ["0a", "0b", "1a"],
            ("mixed_7a", _) => ["0a", "1a"],
            (_, 0) => [],
            _ => ["0a", "0b", "0c"],
        };
        return (order.Length == 0 ? $"{module}.branch{branch}" : $"{module}.branch{branch}.{Array.IndexOf(order, conv)}", false);
    }

    private static NamedTensor Get(WeightSet w, string name)
        => w.TryGet(name, out var t) ? t : throw new KeyNotFoundException($"reference needs '{name}', absent from the weights");
}
