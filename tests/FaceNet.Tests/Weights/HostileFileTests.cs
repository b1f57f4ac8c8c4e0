using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using FaceNet.Import.Weights;

namespace FaceNet.Tests.Weights;

/// <summary>
/// PyTorch files made to hurt: each pickle opcode family the reader must refuse, and tensors that claim
/// more than their storage holds. Every one ends in a <see cref="WeightsException"/> naming the reason,
/// quickly and without a large allocation.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-hostile-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    /// <summary>A torch.save zip archive with the given pickle as data.pkl and one 4-byte float storage "0".</summary>
    private string Pt(byte[] pickle, int storageBytes = 4)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".pt");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
        Add("archive/data.pkl", pickle);
        Add("archive/data/0", new byte[storageBytes]);
        return path;
    }

    private static byte[] Bytes(params object[] parts)
    {
        var s = new MemoryStream();
        foreach (var p in parts)
            switch (p)
            {
                case byte b: s.WriteByte(b); break;
                case char c: s.WriteByte((byte)c); break;
                case string t: s.Write(Encoding.ASCII.GetBytes(t)); break;
                case byte[] a: s.Write(a); break;
                case int i: s.Write(BitConverter.GetBytes(i)); break;
            }
        return s.ToArray();
    }

    private static byte[] Int(long v) => v is >= 0 and < 256 ? [(byte)'K', (byte)v] : [(byte)'J', .. BitConverter.GetBytes((int)v)];

    /// <summary>A state dict holding one tensor "w" on storage "0" (float, 1 element) with this size and stride.</summary>
    private static byte[] OneTensor(long[] size, long[] stride, long offset = 0)
    {
        var p = new List<byte>();
        void Add(params byte[] b) => p.AddRange(b);
        void Str(string v) { Add((byte)'X'); Add(BitConverter.GetBytes(v.Length)); Add(Encoding.ASCII.GetBytes(v)); }
        Add(0x80, 2, (byte)'}', (byte)'(');
        Str("w");
        Add(Encoding.ASCII.GetBytes("ctorch._utils\n_rebuild_tensor_v2\n"));
        Add((byte)'(');
        Add((byte)'('); Str("storage"); Add(Encoding.ASCII.GetBytes("ctorch\nFloatStorage\n")); Str("0"); Str("cpu"); Add(Int(1)); Add((byte)'t', (byte)'Q');
        Add(Int(offset));
        Add((byte)'('); foreach (var d in size) Add(Int(d)); Add((byte)'t');
        Add((byte)'('); foreach (var d in stride) Add(Int(d)); Add((byte)'t');
        Add(0x89, (byte)')', (byte)'t', (byte)'R');
        Add((byte)'u', (byte)'.');
        return p.ToArray();
    }

    [Theory]
    [InlineData(40000, 40000)]
    [InlineData(60000, 60000)]
    public void A_tensor_claiming_more_than_its_storage_is_refused_before_anything_is_allocated(long rows, long cols)
    {
        var path = Pt(OneTensor([rows, cols], [0, 0]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<WeightsException>(() => TorchReader.Read(path));
        Assert.True(sw.Elapsed.TotalSeconds < 2, $"took {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "allocated for the claimed shape");
        Assert.Contains($"[{rows},{cols}]", e.Reason);
        Assert.Contains("hostile", e.Reason);
    }

    [Fact]
    public void A_tensor_that_fits_its_storage_is_read_and_one_that_reaches_past_it_is_not()
    {
        var t = TorchReader.Read(Pt(OneTensor([1], [1])));
        Assert.True(t.TryGet("w", out var w));
        Assert.Equal([1], w.Shape);
        Assert.Contains("over a storage of 0", Assert.Throws<WeightsException>(() => TorchReader.Read(Pt(OneTensor([1], [1]), storageBytes: 0))).Reason);
        Assert.Contains("reads outside", Assert.Throws<WeightsException>(() => TorchReader.Read(Pt(OneTensor([1], [1], offset: 3), storageBytes: 8))).Reason);
        Assert.Contains("negative", Assert.Throws<WeightsException>(() => TorchReader.Read(Pt(OneTensor([1], [-1])))).Reason);
    }

    public static TheoryData<string, byte[], string> Opcodes => new()
    {
        // STACK_GLOBAL naming a forbidden callable (protocol 4 style)
        { "STACK_GLOBAL", Bytes((byte)0x80, (byte)4, (byte)0x8c, (byte)2, "os", (byte)0x8c, (byte)6, "system", (byte)0x93, '.'), "forbidden global 'os.system'" },
        { "GLOBAL builtins.eval", Bytes((byte)0x80, (byte)2, 'c', "builtins\neval\n", '.'), "forbidden global 'builtins.eval'" },
        { "INST", Bytes((byte)0x80, (byte)2, '(', 'i', "os\nsystem\n", '.'), "opcode 0x69" },
        { "OBJ", Bytes((byte)0x80, (byte)2, '(', 'c', "collections\nOrderedDict\n", 'o', '.'), "opcode 0x6f" },
        { "NEWOBJ", Bytes((byte)0x80, (byte)2, 'c', "collections\nOrderedDict\n", ')', (byte)0x81, '.'), "opcode 0x81" },
        { "EXT1", Bytes((byte)0x80, (byte)2, (byte)0x82, (byte)1, '.'), "opcode 0x82" },
        { "REDUCE on a non-global", Bytes((byte)0x80, (byte)2, ']', ')', 'R', '.'), "not an allowed global" },
        { "BUILD on a list", Bytes((byte)0x80, (byte)2, ']', '}', 'b', '.'), "BUILD on an unexpected object" },
        { "memo read before write", Bytes((byte)0x80, (byte)2, 'h', (byte)5, '.'), "memo 5, never stored" },
        { "long memo read before write", Bytes((byte)0x80, (byte)2, 'j', 123456, '.'), "memo 123456, never stored" },
        { "oversized string", Bytes((byte)0x80, (byte)2, 'X', unchecked((int)0xFFFFFFF0), "abc", '.'), "corrupt pickle" },
        { "string past the end", Bytes((byte)0x80, (byte)2, 'X', 1_000_000, "abc", '.'), "corrupt pickle" },
        { "no STOP", Bytes((byte)0x80, (byte)2, '}'), "no STOP" },
        { "unbalanced stack", Bytes((byte)0x80, (byte)2, '}', '}', '.'), "not balanced" },
    };

    [Theory]
    [MemberData(nameof(Opcodes))]
    public void Each_forbidden_pickle_opcode_family_is_refused(string what, byte[] pickle, string reason)
    {
        var path = Pt(pickle);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<WeightsException>(() => TorchReader.Read(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, what + ": allocated too much");
        Assert.Contains(reason, e.Reason);
    }
}
