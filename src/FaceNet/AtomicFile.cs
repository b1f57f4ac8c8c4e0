namespace FaceNet;

/// <summary>Writes a file so that readers see the old content or the new, never half of it: a temporary file beside it, then a rename.</summary>
public static class AtomicFile
{
    /// <summary>Writes the file whole or not at all; <paramref name="ownerOnly"/>: readable by its owner only (0600) from its first byte.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool ownerOnly = false)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new OutputFileException(path, $"folder {dir} does not exist");
        if (Directory.Exists(full)) throw new OutputFileException(path, "is a folder");
        var tmp = full + ".tmp-" + Environment.ProcessId + "-" + Environment.CurrentManagedThreadId;
        try
        {
            var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            if (ownerOnly && !OperatingSystem.IsWindows()) create.UnixCreateMode = OwnerOnly;
            using (var f = new FileStream(tmp, create))
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

    public static void Write(string path, string text, bool ownerOnly = false) => Write(path, System.Text.Encoding.UTF8.GetBytes(text), ownerOnly);

    /// <summary>Read and write for the owner only (0600): galleries, keys and their side files.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Makes an existing file readable by its owner only (0600); nothing on Windows.</summary>
    public static void MakeOwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path)) File.SetUnixFileMode(path, OwnerOnly);
    }
}
