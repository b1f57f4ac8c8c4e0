using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Matching;
using FaceNet.Models;
using FaceNet.Import.Networks;
using FaceNet.Import.Weights;
using SkiaSharp;

// Micro-benchmarks of the pipeline's managed stages and of the seed network on ONNX Runtime.
// Run: dotnet run -c Release --project bench/FaceNet.Bench -- --filter '*'
// End-to-end throughput of a model: `facenet bench` (see README).
BenchmarkSwitcher.FromAssembly(typeof(Stages).Assembly).Run(args);

[MemoryDiagnoser]
public class Stages
{
    private byte[] _jpeg = [];
    private RgbImage _photo = null!;
    private RgbImage _face = null!;
    private float[] _input = [];
    private float[] _a = [], _b = [];
    private Preprocessing _prewhiten = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        var px = new byte[1280 * 800 * 3];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(128 + 100 * Math.Sin(i / 997.0) + rng.Next(-10, 10));
        _photo = new RgbImage(1280, 800, px);
        using (var bmp = new SKBitmap(new SKImageInfo(1280, 800, SKColorType.Rgba8888, SKAlphaType.Opaque)))
        {
            for (int y = 0; y < 800; y++) for (int x = 0; x < 1280; x++) { var (r, g, b) = _photo[x, y]; bmp.SetPixel(x, y, new SKColor(r, g, b)); }
            using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
            _jpeg = data.ToArray();
        }
        _face = _photo.Crop(400, 200, 300, 300).Resize(160, 160);
        _input = new float[3 * 160 * 160];
        _prewhiten = Preprocessing.Parse("prewhiten");
        _a = Enumerable.Range(0, 128).Select(i => (float)Math.Sin(i)).ToArray();
        _b = Enumerable.Range(0, 128).Select(i => (float)Math.Cos(i)).ToArray();
        L2.NormalizeInPlace(_a);
        L2.NormalizeInPlace(_b);
    }

    [Benchmark] public RgbImage DecodeJpeg1MP() => ImageDecoder.Decode(_jpeg);
    [Benchmark] public RgbImage CropResize160() => _photo.CropWithMargin(400, 200, 300, 300, 10).Resize(160, 160);
    [Benchmark] public RgbImage CropResizeArea160() => _photo.CropWithMargin(400, 200, 300, 300, 10).Resize(160, 160, ResizeMode.Area);
    [Benchmark] public void Prewhiten160() => _prewhiten.Apply(_face, _input);
    [Benchmark] public float Euclidean128() => Distance.Euclidean(_a, _b);
}

/// <summary>
/// A 12 MP JPEG (a README sample photo enlarged, so it has a photo's statistics) decoded in full and at each
/// DCT scale the decoder offers: what decoding to the detector's size saves.
/// </summary>
[MemoryDiagnoser]
public class DecodeScales
{
    private byte[] _jpeg = [];

    [Params(8, 4, 3, 2, 1)] public int Eighths { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string sample = Path.Combine(AppContext.BaseDirectory, "person_a_1.jpg");
        using var small = SKBitmap.Decode(sample) ?? throw new FileNotFoundException("sample photo missing", sample);
        using var big = small.Resize(new SKImageInfo(4000, 3000), new SKSamplingOptions(SKCubicResampler.Mitchell));
        using var data = big.Encode(SKEncodedImageFormat.Jpeg, 90);
        _jpeg = data.ToArray();
    }

    // the long side that makes DecodePhoto pick this scale (0: full size)
    [Benchmark] public Photo Decode() => ImageDecoder.DecodePhoto(_jpeg, "12mp.jpg", null, Eighths == 8 ? 0 : 4000 * Eighths / 8);
}

/// <summary>The seed's Inception-ResNet-V1 (random weights) on ONNX Runtime, per batch.</summary>
public class SeedNetwork
{
    private FaceEmbedder _embedder = null!;
    private RgbImage[] _faces = [];

    [Params(1, 32)] public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (onnx, _) = WeightImporter.Import(InceptionResNetV1.RandomWeights(WeightFormat.Keras));
        _embedder = FaceEmbedder.FromOnnx(onnx, "seed", new EmbedderOptions { MaxBatch = 32 });
        var rng = new Random(3);
        _faces = Enumerable.Range(0, Batch).Select(_ => { var px = new byte[160 * 160 * 3]; rng.NextBytes(px); return new RgbImage(160, 160, px); }).ToArray();
    }

    [GlobalCleanup] public void Cleanup() => _embedder.Dispose();

    [Benchmark] public float[][] Embed() => _embedder.Embed(_faces);
}
