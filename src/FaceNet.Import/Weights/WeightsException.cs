namespace FaceNet.Import.Weights;

/// <summary>A weight file that cannot be used: unreadable, not the expected format, or not matching the network.</summary>
public sealed class WeightsException(string file, string reason, Exception? inner = null) : FaceNetException(file, reason, inner,
    kind: FaceNetErrorKind.BadModel);
