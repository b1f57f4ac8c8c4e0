namespace FaceNet.Tests;

/// <summary>
/// A folder of a test's own, deleted with it: SQLite's pooled connections let go of its files first, and a file
/// that a killed child process still holds is left behind rather than failing the test.
/// </summary>
public sealed class TempFolder(string prefix = "facenet-") : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Path, true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
