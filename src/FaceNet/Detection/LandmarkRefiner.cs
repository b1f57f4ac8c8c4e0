using FaceNet.Imaging;
using Microsoft.ML.OnnxRuntime;
using static FaceNet.Detection.MtcnnDetector;

namespace FaceNet.Detection;

/// <summary>
/// Faces from another detector, with five landmarks from MTCNN's O-Net: O-Net runs on the square around
/// each box, its box regression gives the square it was trained to see (an R-Net output), and a second
/// O-Net pass there gives the landmarks MTCNN itself would give, for a fraction of MTCNN's cost. On LFW
/// View 1 DevTrain these landmarks align faces for MobileFaceNet as well as MTCNN's own and better than
/// YuNet's (10-fold 0.9923 against 0.9918 and 0.9882), and on faces that fill the frame too (DevTrain cut
/// inside the face box: 0.9923 at the threshold against YuNet's 0.9759), since the squares that reach past
/// the image are padded black as MTCNN pads them. The boxes stay the detector's; where O-Net cannot be
/// trusted the detector's own landmarks are kept, and <see cref="DetectedFace.LandmarksSource"/> says which.
/// </summary>
public sealed class LandmarkRefiner : IFaceDetector
{
    // When O-Net's landmarks are not taken (chosen on LFW View 1 DevTrain and on its photos cut to the face
    // and aligned to 112×112; see README): its square lies mostly outside the photo, it hardly sees a face
    // there, or its points are nowhere near the finder's (mean distance over the five, in eye distances).
    internal const float MinInside = 0.4f, MinScore = 0.3f, MaxDrift = 0.75f;

    private readonly IFaceDetector _detector;
    private readonly InferenceSession _onet;

    /// <param name="mtcnnFolder">Holds <c>onet.onnx</c>.</param>
    public LandmarkRefiner(IFaceDetector detector, string mtcnnFolder, int threads = 0)
    {
        using var so = Embedding.OrtOptions.Create(threads);
        _onet = MtcnnDetector.Session(mtcnnFolder, "onet", so);
        _detector = detector;
    }

    public string Name => _detector.Name + "+onet";

    public int? WorkingSize => _detector.WorkingSize;

    public IReadOnlyList<DetectedFace> Detect(RgbImage image) => Refine(image, _detector.Detect(image));

    public IReadOnlyList<DetectedFace> Detect(RgbImage image, int maxFaces, out int found)
        => Refine(image, _detector.Detect(image, maxFaces, out found)); // O-Net only for the faces kept

    private IReadOnlyList<DetectedFace> Refine(RgbImage image, IReadOnlyList<DetectedFace> faces)
    {
        if (faces.Count == 0) return faces;
        var boxes = faces.Select(f => Square(new Candidate(f.Box.X, f.Box.Y, f.Box.Right, f.Box.Bottom, f.Score, []))).ToList();
        var (first, kept) = RunStage(_onet, image, boxes, 48, ["reg"]);
        if (kept.Count != boxes.Count) return faces;
        boxes = kept.Select((c, i) => Square(Regress(c with { Reg = first[0].AsSpan(i * 4, 4).ToArray() }))).ToList();
        var (second, again) = RunStage(_onet, image, boxes, 48, ["prob", "landmarks"]);
        if (again.Count != boxes.Count) return faces;
        var result = new DetectedFace[faces.Count];
        for (int i = 0; i < faces.Count; i++)
        {
            var c = again[i];
            float bw = c.X2 - c.X1 + 1, bh = c.Y2 - c.Y1 + 1;
            var lm = new FacePoint[5];
            for (int k = 0; k < 5; k++) lm[k] = new FacePoint(bw * second[1][i * 10 + k] + c.X1 - 1, bh * second[1][i * 10 + 5 + k] + c.Y1 - 1);
            float prob = second[0][i * 2 + 1], inside = InsideFraction(c, image.Width, image.Height);
            var own = faces[i].Landmarks;
            float drift = own is null ? 0 : Drift(own, lm);
            bool trusted = own is null || (inside >= MinInside && prob >= MinScore && drift <= MaxDrift);
            result[i] = trusted ? faces[i] with { Landmarks = lm, LandmarksSource = "onet" } : faces[i];
        }
        return result;
    }

    /// <summary>Mean distance between two sets of five landmarks, in units of the first set's eye distance.</summary>
    internal static float Drift(FacePoint[] reference, FacePoint[] other)
    {
        float eye = MathF.Max(1, MathF.Sqrt(Sq(reference[1].X - reference[0].X) + Sq(reference[1].Y - reference[0].Y)));
        float sum = 0;
        for (int k = 0; k < 5; k++) sum += MathF.Sqrt(Sq(reference[k].X - other[k].X) + Sq(reference[k].Y - other[k].Y));
        return sum / 5 / eye;
    }

    private static float Sq(float x) => x * x;

    public void Dispose()
    {
        _detector.Dispose();
        _onet.Dispose();
    }
}
