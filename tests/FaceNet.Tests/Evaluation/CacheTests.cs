using FaceNet.Evaluation;

namespace FaceNet.Tests.Evaluation;

public sealed class CacheTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-cache-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string Key(int i) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)));

    [Fact]
    public void A_torn_last_record_is_dropped_and_the_rest_kept()
    {
        using (var c = new EmbeddingCache(_dir, "k"))
        {
            c.Add(Key(1), [1f, 2f, 3f]);
            c.Add(Key(2), null); // no face
            c.Add(Key(3), [4f, 5f, 6f]);
        }
        var file = Path.Combine(_dir, "k.emb");
        long whole = new FileInfo(file).Length;
        using (var f = new FileStream(file, FileMode.Open)) f.SetLength(whole - 5); // a run killed while writing the third
        using (var c = new EmbeddingCache(_dir, "k"))
        {
            Assert.Equal(2, c.Count);
            Assert.True(c.TryGet(Key(1), out var v1));
            Assert.Equal([1f, 2f, 3f], v1!);
            Assert.True(c.TryGet(Key(2), out var v2));
            Assert.Null(v2);
            Assert.False(c.TryGet(Key(3), out _));
            c.Add(Key(3), [7f, 8f, 9f]); // appended where the torn record began, not after its remains
        }
        using var again = new EmbeddingCache(_dir, "k");
        Assert.Equal(3, again.Count);
        Assert.True(again.TryGet(Key(3), out var v3));
        Assert.Equal([7f, 8f, 9f], v3!);
        Assert.Equal(whole, new FileInfo(file).Length);
    }
}
