using FaceNet.Embedding;
using FaceNet.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Detection;

/// <summary>
/// YuNet (libfacedetection, OpenCV Zoo 2023mar weights) on ONNX Runtime: boxes and five landmarks.
/// Input BGR 0–255 without normalisation, any size padded to a multiple of 32; outputs decoded per
/// stride 8/16/32 as OpenCV's FaceDetectorYN does.
/// </summary>
public sealed class YuNetDetector : IFaceDetector
{
    private static readonly int[] Strides = [8, 16, 32];
    private readonly InferenceSession _session;
    private readonly YuNetOptions _options;
    private readonly string _inputName;

    public YuNetDetector(string modelPath, YuNetOptions? options = null)
    {
        _options = options ?? new YuNetOptions();
        using var so = OrtOptions.Create(_options.Threads);
        try { _session = new InferenceSession(modelPath, so); }
        catch (OnnxRuntimeException e) { throw new ModelException(modelPath, "not a loadable YuNet ONNX model: " + e.Message.Split('\n')[0], e); }
        _inputName = _session.InputMetadata.Keys.First();
        foreach (var s in Strides)
            foreach (var o in new[] { "cls", "obj", "bbox", "kps" })
                if (!_session.OutputMetadata.ContainsKey($"{o}_{s}"))
                    throw new ModelException(modelPath, $"not a YuNet model (no output {o}_{s})");
    }

    public string Name => "yunet";

    public int? WorkingSize => _options.MaxSide;

    public IReadOnlyList<DetectedFace> Detect(RgbImage image)
    {
        float scale = Math.Min(1f, (float)_options.MaxSide / Math.Max(image.Width, image.Height));
        var faces = DetectAtScale(image, scale);
        // A face filling a small image can be larger than YuNet's range: look again at half size.
        if (faces.Count == 0 && Math.Max(image.Width, image.Height) * scale > 160)
            faces = DetectAtScale(image, scale * 0.5f);
        // A small, low-resolution photo can hold a face below YuNet's smallest: look again at twice the size.
        if (faces.Count == 0 && Math.Max(image.Width, image.Height) * scale < 320)
            faces = DetectAtScale(image, scale * 2f);
        if (faces.Count == 0 && _options.ProfileScoreThreshold > 0 && _options.ProfileScoreThreshold < _options.ScoreThreshold)
            faces = ConfirmedByMirror(image, scale);
        return Nms.LargestFirst(faces);
    }

    /// <summary>
    /// The faces found at <see cref="YuNetOptions.ProfileScoreThreshold"/> in the photo (at this scale, else at half
    /// of it) that YuNet also finds in its mirror image at that scale and again at a second one (half that scale, or
    /// twice it in a photo under 320 px), in the photo or the mirror; each scored by the lower of its two first scores.
    /// Measured on tiles of the project's photo sets that hold no face (1,414): the second look finds 16 faces there,
    /// the first 4 (POSE-NOTES.md).
    /// </summary>
    private List<DetectedFace> ConfirmedByMirror(RgbImage image, float scale)
    {
        var mirror = image.FlipHorizontal();
        List<FaceBox> Mirrored(float s) => DetectAtScale(mirror, s, _options.ProfileScoreThreshold)
            .Select(f => new FaceBox(image.Width - f.Box.Right, f.Box.Y, f.Box.Width, f.Box.Height)).ToList();
        foreach (var s in new[] { scale, scale * 0.5f })
        {
            if (Math.Max(image.Width, image.Height) * s < 32) break;
            var seen = DetectAtScale(image, s, _options.ProfileScoreThreshold);
            if (seen.Count == 0) continue;
            var mirrored = DetectAtScale(mirror, s, _options.ProfileScoreThreshold)
                .Select(f => (Box: new FaceBox(image.Width - f.Box.Right, f.Box.Y, f.Box.Width, f.Box.Height), f.Score)).ToList();
            var confirmed = new List<DetectedFace>();
            foreach (var f in seen)
            {
                var match = mirrored.Where(m => m.Box.IoU(f.Box) >= _options.ProfileAgreement).OrderByDescending(m => m.Score).FirstOrDefault();
                if (match.Score > 0) confirmed.Add(f with { Score = Math.Min(f.Score, match.Score) });
            }
            if (confirmed.Count == 0) continue;
            float other = Math.Max(image.Width, image.Height) * s >= 320 ? s * 0.5f : s * 2f;
            var again = DetectAtScale(image, other, _options.ProfileScoreThreshold).Select(f => f.Box).Concat(Mirrored(other)).ToList();
            confirmed = confirmed.Where(c => again.Any(b => b.IoU(c.Box) >= SecondScaleOverlap)).ToList();
            if (confirmed.Count > 0) return confirmed;
        }
        return [];
    }

    // boxes of one face at two scales overlap less than at one (YuNet's box regression shifts with the scale)
    private const float SecondScaleOverlap = 0.3f;

    private List<DetectedFace> DetectAtScale(RgbImage image, float scale, float? threshold = null)
    {
        float minScore = threshold ?? _options.ScoreThreshold;
        int w = Math.Max(1, (int)MathF.Round(image.Width * scale)), h = Math.Max(1, (int)MathF.Round(image.Height * scale));
        var resized = scale == 1f ? image : image.Resize(w, h, ResizeMode.Area);
        int pw = (w + 31) / 32 * 32, ph = (h + 31) / 32 * 32;
        var input = new float[3 * pw * ph];
        int plane = pw * ph;
        var px = resized.Pixels;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int s = (y * w + x) * 3, d = y * pw + x;
            input[d] = px[s + 2];           // B
            input[plane + d] = px[s + 1];   // G
            input[2 * plane + d] = px[s];   // R
        }
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, ph, pw]);
        var names = Strides.SelectMany(s => new[] { $"cls_{s}", $"obj_{s}", $"bbox_{s}", $"kps_{s}" }).ToArray();
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [_inputName], [value], names);
        var candidates = new List<DetectedFace>();
        for (int si = 0; si < Strides.Length; si++)
        {
            int stride = Strides[si], cols = pw / stride, rows = ph / stride;
            var cls = outputs[si * 4].GetTensorDataAsSpan<float>();
            var obj = outputs[si * 4 + 1].GetTensorDataAsSpan<float>();
            var bbox = outputs[si * 4 + 2].GetTensorDataAsSpan<float>();
            var kps = outputs[si * 4 + 3].GetTensorDataAsSpan<float>();
            for (int i = 0; i < rows * cols && i < cls.Length; i++)
            {
                float score = MathF.Sqrt(Math.Clamp(cls[i], 0, 1) * Math.Clamp(obj[i], 0, 1));
                if (score < minScore) continue;
                int r = i / cols, c = i % cols;
                float cx = (c + bbox[i * 4]) * stride, cy = (r + bbox[i * 4 + 1]) * stride;
                float bw = MathF.Exp(bbox[i * 4 + 2]) * stride, bh = MathF.Exp(bbox[i * 4 + 3]) * stride;
                var landmarks = new FacePoint[5];
                for (int k = 0; k < 5; k++)
                    landmarks[k] = new FacePoint((kps[i * 10 + 2 * k] + c) * stride / scale, (kps[i * 10 + 2 * k + 1] + r) * stride / scale);
                var box = new FaceBox((cx - bw / 2) / scale, (cy - bh / 2) / scale, bw / scale, bh / scale);
                candidates.Add(new DetectedFace(Clip(box, image.Width, image.Height), score, landmarks) { LandmarksSource = "yunet" });
            }
        }
        return Nms.Apply(candidates, _options.NmsThreshold);
    }

    private static FaceBox Clip(FaceBox b, int width, int height)
    {
        float x0 = Math.Clamp(b.X, 0, width), y0 = Math.Clamp(b.Y, 0, height);
        float x1 = Math.Clamp(b.Right, 0, width), y1 = Math.Clamp(b.Bottom, 0, height);
        return new FaceBox(x0, y0, x1 - x0, y1 - y0);
    }

    public void Dispose() => _session.Dispose();
}
