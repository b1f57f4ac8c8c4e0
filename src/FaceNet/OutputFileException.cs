namespace FaceNet;

/// <summary>An output file that cannot be written: the message names it and says why.</summary>
public sealed class OutputFileException(string file, string reason, Exception? inner = null) : FaceNetException(file, reason, inner,
    kind: FaceNetErrorKind.Output);
