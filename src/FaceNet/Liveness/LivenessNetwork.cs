using FaceNet.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Liveness;

/// <summary>One liveness network: its file, what its metadata says, and its ONNX Runtime session.</summary>
public sealed class LivenessNetwork : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input, _output;

    internal LivenessNetwork(string path, InferenceSession session, LivenessInfo info)
    {
        Path = path;
        _session = session;
        Info = info;
        _input = session.InputMetadata.Keys.First();
        _output = session.OutputMetadata.Keys.First();
    }

    public string Path { get; }
    public LivenessInfo Info { get; }

    /// <summary>Softmax outputs for crops of <see cref="LivenessInfo.InputSize"/>², one row per crop, in batches of at most <paramref name="maxBatch"/>.</summary>
    public float[][] Probabilities(IReadOnlyList<RgbImage> crops, int maxBatch = 32)
    {
        var result = new float[crops.Count][];
        int size = Info.InputSize, plane = size * size;
        bool bgr = Info.Channels == "bgr";
        float unit = Info.Raw ? 1f : 1f / 255f;
        for (int start = 0; start < crops.Count; start += maxBatch)
        {
            int n = Math.Min(maxBatch, crops.Count - start);
            var input = new float[n * 3 * plane];
            for (int i = 0; i < n; i++)
            {
                var crop = crops[start + i];
                if (crop.Width != size || crop.Height != size)
                    throw new ArgumentException($"a liveness crop is {crop.Width}×{crop.Height}; the network takes {size}×{size}");
                var px = crop.Pixels;
                int o = i * 3 * plane;
                for (int p = 0; p < plane; p++)
                {
                    float r = px[3 * p] * unit, g = px[3 * p + 1] * unit, b = px[3 * p + 2] * unit;
                    input[o + p] = bgr ? b : r;
                    input[o + plane + p] = g;
                    input[o + 2 * plane + p] = bgr ? r : b;
                }
            }
            using var value = OrtValue.CreateTensorValueFromMemory(input, [n, 3, size, size]);
            using var run = new RunOptions();
            using var outputs = _session.Run(run, [_input], [value], [_output]);
            var data = outputs[0].GetTensorDataAsSpan<float>();
            int classes = data.Length / n;
            for (int i = 0; i < n; i++) result[start + i] = data.Slice(i * classes, classes).ToArray();
        }
        return result;
    }

    public void Dispose() => _session.Dispose();
}
