namespace FaceNet.Gallery;

/// <summary>A gallery that cannot be used as asked: wrong model, unknown subject, corrupt file.</summary>
public sealed class GalleryException(string file, string reason, FaceNetErrorKind kind = FaceNetErrorKind.Invalid, Exception? inner = null)
    : FaceNetException(file, reason, inner, kind: kind)
{
    /// <summary>The gallery belongs to another model (a model error, not an input error).</summary>
    public bool ModelMismatch => Kind == FaceNetErrorKind.ModelMismatch;

    /// <summary>A master key was given to a gallery that holds plain faces (<see cref="FaceNetErrorKind.Locked"/>: encrypt it first).</summary>
    public bool NotEncrypted { get; init; }
}
