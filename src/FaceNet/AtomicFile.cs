namespace FaceNet;

/// <summary>An output file that cannot be written: the message names it and says why.</summary>
public sealed class OutputFileException(string file, string reason, Exception? inner = null) : FaceNetException(file, reason, inner,
    kind: FaceNetErrorKind.Output);

/// <summary>Writes a file so that readers see the old content or the new, never half of it: a temporary file beside it, then a rename.</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new OutputFileException(path, $"folder {dir} does not exist");
        if (Directory.Exists(full)) throw new OutputFileException(path, "is a folder");
        var tmp = full + ".tmp-" + Environment.ProcessId + "-" + Environment.CurrentManagedThreadId;
        try
        {
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new OutputFileException(path, e is UnauthorizedAccessException ? "permission denied" : e.Message, e);
        }
    }

    public static void Write(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));
}
