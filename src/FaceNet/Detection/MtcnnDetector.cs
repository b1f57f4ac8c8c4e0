using FaceNet.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Detection;

/// <summary>
/// MTCNN, the detector FaceNet was trained with: an image pyramid through P-Net (12×12 windows,
/// stride 2), candidate refinement by R-Net (24×24) and O-Net (48×48, with five landmarks), box
/// regression and NMS between stages, following facenet-pytorch's <c>detect_face</c>. The three
/// networks are built as ONNX graphs from facenet-pytorch's weights (safetensors or .pt).
/// </summary>
public sealed class MtcnnDetector : IFaceDetector
{
    private readonly InferenceSession _pnet, _rnet, _onet;
    private readonly MtcnnOptions _options;

    /// <param name="folder">Holds <c>pnet.onnx</c>, <c>rnet.onnx</c> and <c>onet.onnx</c> (built by <c>facenet import --network mtcnn-…</c> from facenet-pytorch's weights).</param>
    public MtcnnDetector(string folder, MtcnnOptions? options = null)
    {
        _options = options ?? new MtcnnOptions();
        using var so = Embedding.OrtOptions.Create(_options.Threads);
        _pnet = Session(folder, "pnet", so);
        _rnet = Session(folder, "rnet", so);
        _onet = Session(folder, "onet", so);
    }

    public string Name => "mtcnn";

    internal static InferenceSession Session(string folder, string net, SessionOptions options)
    {
        var path = Path.Combine(folder, net + ".onnx");
        if (!File.Exists(path)) throw new Embedding.ModelException(path, "MTCNN network not found");
        try { return new InferenceSession(path, options); }
        catch (OnnxRuntimeException e) { throw new Embedding.ModelException(path, "not a loadable ONNX model: " + e.Message.Split('\n')[0], e); }
    }

    internal sealed record Candidate(float X1, float Y1, float X2, float Y2, float Score, float[] Reg, float[]? Points = null);

    public IReadOnlyList<DetectedFace> Detect(RgbImage image)
    {
        int w = image.Width, h = image.Height;

        // Stage 1: P-Net over the pyramid.
        var all = new List<Candidate>();
        float m = 12f / _options.MinFaceSize;
        float minl = Math.Min(w, h) * m;
        for (float scale = m; minl >= 12; scale *= _options.ScaleFactor, minl *= _options.ScaleFactor)
        {
            int sh = (int)(h * scale + 1), sw = (int)(w * scale + 1);
            var resized = image.Resize(sw, sh, ResizeMode.Area);
            var input = Standardize(resized);
            using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, sh, sw]);
            using var ro = new RunOptions();
            using var outputs = _pnet.Run(ro, ["input"], [value], ["prob", "reg"]);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            int oh = (int)shape[2], ow = (int)shape[3], plane = oh * ow;
            var prob = outputs[0].GetTensorDataAsSpan<float>();
            var reg = outputs[1].GetTensorDataAsSpan<float>();
            var found = new List<Candidate>();
            for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                float score = prob[plane + y * ow + x];
                if (score < _options.Thresholds[0]) continue;
                found.Add(new Candidate(
                    MathF.Floor((2 * x + 1) / scale), MathF.Floor((2 * y + 1) / scale),
                    MathF.Floor((2 * x + 12) / scale), MathF.Floor((2 * y + 12) / scale), score,
                    [reg[y * ow + x], reg[plane + y * ow + x], reg[2 * plane + y * ow + x], reg[3 * plane + y * ow + x]]));
            }
            all.AddRange(NmsCandidates(found, 0.5f, false));
        }
        var boxes = NmsCandidates(all, 0.7f, false)
            .Select(c =>
            {
                float rw = c.X2 - c.X1, rh = c.Y2 - c.Y1;
                return Square(c with { X1 = c.X1 + c.Reg[0] * rw, Y1 = c.Y1 + c.Reg[1] * rh, X2 = c.X2 + c.Reg[2] * rw, Y2 = c.Y2 + c.Reg[3] * rh });
            }).ToList();
        if (boxes.Count == 0) return [];

        // Stage 2: R-Net.
        var (rOut, rKept) = RunStage(_rnet, image, boxes, 24, ["prob", "reg"]);
        var refined = new List<Candidate>();
        for (int i = 0; i < rKept.Count; i++)
        {
            float score = rOut[0][i * 2 + 1];
            if (score <= _options.Thresholds[1]) continue;
            refined.Add(rKept[i] with { Score = score, Reg = rOut[1].AsSpan(i * 4, 4).ToArray() });
        }
        boxes = NmsCandidates(refined, 0.7f, false).Select(c => Square(Regress(c))).ToList();
        if (boxes.Count == 0) return [];

        // Stage 3: O-Net, with landmarks.
        var (oOut, oKept) = RunStage(_onet, image, boxes, 48, ["prob", "reg", "landmarks"]);
        var final = new List<Candidate>();
        for (int i = 0; i < oKept.Count; i++)
        {
            float score = oOut[0][i * 2 + 1];
            if (score <= _options.Thresholds[2]) continue;
            var c = oKept[i];
            float bw = c.X2 - c.X1 + 1, bh = c.Y2 - c.Y1 + 1;
            var pts = new float[10];
            for (int k = 0; k < 5; k++)
            {
                pts[k] = bw * oOut[2][i * 10 + k] + c.X1 - 1;
                pts[5 + k] = bh * oOut[2][i * 10 + 5 + k] + c.Y1 - 1;
            }
            final.Add(Regress(c with { Score = score, Reg = oOut[1].AsSpan(i * 4, 4).ToArray() }) with { Points = pts });
        }
        var faces = NmsCandidates(final, 0.7f, true).Select(c =>
        {
            float x1 = Math.Clamp(c.X1, 0, w), y1 = Math.Clamp(c.Y1, 0, h), x2 = Math.Clamp(c.X2, 0, w), y2 = Math.Clamp(c.Y2, 0, h);
            var lm = Enumerable.Range(0, 5).Select(k => new FacePoint(c.Points![k], c.Points[5 + k])).ToArray();
            return new DetectedFace(new FaceBox(x1, y1, x2 - x1, y2 - y1), c.Score, lm) { LandmarksSource = "mtcnn" };
        });
        return Nms.LargestFirst(faces.Where(f => f.Box.Width > 1 && f.Box.Height > 1));
    }

    /// <summary>
    /// Crops each box (whole pixels) and resizes it to the network's input, as MTCNN's own code does (David
    /// Sandberg's <c>detect_face</c>): the parts of the box outside the image are black, so the crop keeps
    /// the box's frame however far the box reaches past the edge. Stretching only the part inside the image,
    /// as facenet-pytorch does, put the landmarks of a face that fills the frame far off (LFW DevTest cut
    /// inside the face box: 0.81 → 0.99 with the default model). The outputs refer to the boxes as given
    /// (mapping them through the truncated box instead moved LFW's landmarks by 0.8 px and cost DevTest 2 pairs).
    /// </summary>
    internal static (float[][] Outputs, List<Candidate> Kept) RunStage(InferenceSession net, RgbImage image, List<Candidate> boxes, int size, string[] outputs)
    {
        var kept = new List<Candidate>();
        var input = new List<float>();
        foreach (var b in boxes)
        {
            int x1 = (int)b.X1, y1 = (int)b.Y1, x2 = (int)b.X2, y2 = (int)b.Y2;
            int w = x2 - x1 + 1, h = y2 - y1 + 1;
            // 0-based pixels x1 − 1 … x2 − 1 (the box's 1-based convention); nothing of it in the image: skipped
            if (w < 2 || h < 2 || x2 < 1 || y2 < 1 || x1 > image.Width || y1 > image.Height) continue;
            input.AddRange(Standardize(image.CropPadded(x1 - 1, y1 - 1, w, h).Resize(size, size, ResizeMode.Area)));
            kept.Add(b);
        }
        if (kept.Count == 0) return (outputs.Select(_ => Array.Empty<float>()).ToArray(), kept);
        using var value = OrtValue.CreateTensorValueFromMemory(input.ToArray(), [kept.Count, 3, size, size]);
        using var ro = new RunOptions();
        using var results = net.Run(ro, ["input"], [value], outputs);
        return (results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray(), kept);
    }

    /// <summary>The share of a box's area (in <see cref="RunStage"/>'s convention) that lies inside the image.</summary>
    internal static float InsideFraction(Candidate b, int width, int height)
    {
        float w = b.X2 - b.X1 + 1, h = b.Y2 - b.Y1 + 1;
        float ix = Math.Max(0, Math.Min(b.X2, width) - Math.Max(b.X1 - 1, 0));
        float iy = Math.Max(0, Math.Min(b.Y2, height) - Math.Max(b.Y1 - 1, 0));
        return w <= 0 || h <= 0 ? 0 : ix * iy / (w * h);
    }

    internal static Candidate Regress(Candidate c)
    {
        float w = c.X2 - c.X1 + 1, h = c.Y2 - c.Y1 + 1;
        return c with { X1 = c.X1 + c.Reg[0] * w, Y1 = c.Y1 + c.Reg[1] * h, X2 = c.X2 + c.Reg[2] * w, Y2 = c.Y2 + c.Reg[3] * h };
    }

    /// <summary>facenet-pytorch's rerec: the square of the longer side around the box centre.</summary>
    internal static Candidate Square(Candidate c)
    {
        float w = c.X2 - c.X1, h = c.Y2 - c.Y1, l = Math.Max(w, h);
        float x1 = c.X1 + w * 0.5f - l * 0.5f, y1 = c.Y1 + h * 0.5f - l * 0.5f;
        return c with { X1 = x1, Y1 = y1, X2 = x1 + l, Y2 = y1 + l };
    }

    private static List<Candidate> NmsCandidates(List<Candidate> c, float iou, bool min)
    {
        var boxes = c.Select(x => new FaceBox(x.X1, x.Y1, x.X2 - x.X1, x.Y2 - x.Y1)).ToList();
        return Nms.Keep(boxes, c.Select(x => x.Score).ToList(), iou, min).Select(i => c[i]).ToList();
    }

    /// <summary>(x − 127.5) / 128, NCHW.</summary>
    private static float[] Standardize(RgbImage image)
    {
        int plane = image.Width * image.Height;
        var result = new float[3 * plane];
        var px = image.Pixels;
        for (int i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            result[c * plane + i] = (px[i * 3 + c] - 127.5f) * 0.0078125f;
        return result;
    }

    public void Dispose()
    {
        _pnet.Dispose();
        _rnet.Dispose();
        _onet.Dispose();
    }
}
