namespace FaceNet.Evaluation;

/// <summary>A pairs file that cannot be used: the message names the file and the line.</summary>
public sealed class PairsFileException(string file, int line, string reason)
    : FaceNetException(file, reason, null, line > 0 ? $"{file}:{line}" : null)
{
    public int Line { get; } = line;
}
