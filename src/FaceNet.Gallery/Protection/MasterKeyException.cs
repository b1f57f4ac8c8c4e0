namespace FaceNet.Gallery.Protection;

/// <summary>The key file cannot be used (missing, unreadable, not 32 bytes of base64).</summary>
public sealed class MasterKeyException(string file, string reason) : FaceNetException(file, reason, kind: FaceNetErrorKind.Invalid);
