namespace FaceNet;

/// <summary>
/// A file that cannot be used, and why: an image, a model, weights, a pairs file, a gallery. The message
/// is <c>where: reason</c> (where is the file, or the file and line), so one line tells the user both;
/// <see cref="Kind"/> says what kind of fault it is.
/// </summary>
public abstract class FaceNetException(string file, string reason, Exception? inner = null, string? where = null,
    FaceNetErrorKind kind = FaceNetErrorKind.Invalid)
    : Exception($"{where ?? file}: {reason}", inner)
{
    public string File { get; } = file;
    public string Reason { get; } = reason;
    public FaceNetErrorKind Kind { get; } = kind;
}
