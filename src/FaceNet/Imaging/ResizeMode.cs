namespace FaceNet.Imaging;

/// <summary>How <see cref="RgbImage.Resize"/> samples.</summary>
public enum ResizeMode
{
    /// <summary>Bilinear with pixel-centre alignment, as OpenCV's <c>INTER_LINEAR</c> (the seed's <c>cv2.resize</c>).</summary>
    Bilinear,
    /// <summary>Box average over the covered source area, as OpenCV's <c>INTER_AREA</c>; bilinear when enlarging.</summary>
    Area,
}
