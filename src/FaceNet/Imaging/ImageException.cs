namespace FaceNet.Imaging;

/// <summary>An image that cannot be used: the message names the file and the reason.</summary>
public class ImageException : FaceNetException
{
    public ImageException(string file, string reason, Exception? inner = null) : base(file, reason, inner, kind: FaceNetErrorKind.NotAnImage) { }

    /// <summary>A usable image that fails for another reason (no face, too low a quality).</summary>
    protected ImageException(string file, string reason, FaceNetErrorKind kind) : base(file, reason, null, kind: kind) { }
}
