namespace FaceNet.Detection;

/// <summary>The bundled face detectors.</summary>
public enum DetectorKind
{
    /// <summary><c>yunet+onet</c>, the default: YuNet's boxes, MTCNN O-Net's landmarks where they can be trusted.</summary>
    YuNetOnet,
    /// <summary><c>yunet</c>: YuNet alone.</summary>
    YuNet,
    /// <summary><c>mtcnn</c>: the three-stage cascade.</summary>
    Mtcnn,
    /// <summary><c>haar</c>: the seed's Haar cascade (boxes only, no landmarks).</summary>
    Haar,
}
