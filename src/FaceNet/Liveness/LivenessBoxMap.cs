using FaceNet.Detection;

namespace FaceNet.Liveness;

/// <summary>
/// How one detector's face boxes map onto the boxes of the detector the liveness networks were trained with
/// (Minivision's Caffe SSD), whose proportions their crop scales (2.7, 4.0) assume: the centre moves by a
/// share of the box's width and height, and the sides are scaled. Measured per detector on the photo sets
/// (see README); <see cref="For"/> gives the measured map of a detector by its name.
/// </summary>
public sealed record LivenessBoxMap(string Detector, double ShiftX, double ShiftY, double ScaleWidth, double ScaleHeight)
{
    /// <summary>The box as it is (a detector that was not measured).</summary>
    public static LivenessBoxMap Identity { get; } = new("identity", 0, 0, 1, 1);

    public FaceBox Map(DetectedFace face)
    {
        var b = face.Box;
        double cx = b.X + b.Width * (0.5 + ShiftX), cy = b.Y + b.Height * (0.5 + ShiftY);
        double w = b.Width * ScaleWidth, h = b.Height * ScaleHeight;
        return new FaceBox((float)(cx - w / 2), (float)(cy - h / 2), (float)w, (float)h);
    }

    // Medians over the photo sets of README (LFW View 1, the celebrities, deepface's, face_recognition's, facenet-pytorch's and
    // face-api.js's photos, and CFP but for Haar; faces whose box touches the photo's edge left out): the reference box's centre lies 5.7 % (YuNet)
    // or 6.6 % (MTCNN) of the box's height lower, it is 14–15 % wider and 11 % less tall. Mapped, the median size error to the
    // reference box falls from 13 % to 3 % and the vertical centre error from 6.5 % to 1.5 % of the box (bench/liveness/box_mapping.py).
    /// <summary>YuNet's boxes (the default detector, yunet+onet, keeps them), 6,363 faces.</summary>
    public static LivenessBoxMap YuNet { get; } = new("yunet", -0.0100, 0.0571, 1.1382, 0.8880);

    /// <summary>MTCNN's boxes, 6,131 faces.</summary>
    public static LivenessBoxMap Mtcnn { get; } = new("mtcnn", -0.0048, 0.0660, 1.1474, 0.8857);

    /// <summary>The Haar cascade's boxes (the seed's detector), 5,120 faces: about the reference's size, their centre 9 % of the height higher.</summary>
    public static LivenessBoxMap Haar { get; } = new("haar", -0.0054, 0.0921, 0.9492, 0.9754);

    /// <summary>The measured map of a detector (<see cref="IFaceDetector.Name"/>: yunet, yunet+onet, mtcnn, haar); the identity for others.</summary>
    public static LivenessBoxMap For(string detector) => detector switch
    {
        "yunet" or "yunet+onet" => YuNet,
        "mtcnn" => Mtcnn,
        "haar" => Haar,
        _ => Identity,
    };
}
