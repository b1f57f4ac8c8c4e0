using System.Buffers.Binary;
using System.Text;

namespace FaceNet.Import.Weights;

/// <summary>
/// A deliberately tiny pickle reader for PyTorch state dicts. A <c>.pt</c> file is untrusted input:
/// instead of executing the pickle program, this reader interprets only the opcodes a state dict
/// uses and resolves only an allow-list of globals (OrderedDict, the tensor rebuild functions, the
/// storage types). Any other global, or an opcode outside that set, ends the read with an error.
/// Nothing is ever instantiated from a name found in the file.
/// </summary>
internal static class SafePickle
{
    /// <summary>A reference to an allowed global, e.g. <c>torch._utils._rebuild_tensor_v2</c>.</summary>
    internal sealed record Global(string Module, string Name)
    {
        public string FullName => Module + "." + Name;
    }

    /// <summary>A persistent-id storage reference: <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
    internal sealed record StorageRef(string DType, string Key, long Numel);

    /// <summary>A tensor view on a storage, as <c>_rebuild_tensor_v2</c> describes it.</summary>
    internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

    /// <summary>An insertion-ordered dictionary (dict and OrderedDict alike).</summary>
    internal sealed class Dict
    {
        public List<KeyValuePair<object?, object?>> Items { get; } = new();
    }

    /// <summary>The pickle ends, or its stack runs out, where an opcode needs more.</summary>
    private sealed class Truncated : Exception;

    private sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    private static readonly HashSet<string> AllowedGlobals = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
        "torch.float32", "torch.float16", "torch.bfloat16", "torch.float64", "torch.int64",
    };

    internal static string StorageDType(string storageType) => storageType switch
    {
        "FloatStorage" or "float32" => "F32",
        "DoubleStorage" or "float64" => "F64",
        "HalfStorage" or "float16" => "F16",
        "BFloat16Storage" or "bfloat16" => "BF16",
        "LongStorage" or "int64" => "I64",
        "IntStorage" => "I32",
        "ShortStorage" => "I16",
        "CharStorage" => "I8",
        "ByteStorage" => "U8",
        "BoolStorage" => "BOOL",
        _ => throw new InvalidDataException($"unsupported storage type {storageType}"),
    };

    /// <summary>Runs one pickle program from <paramref name="data"/> at <paramref name="pos"/> and returns its result.</summary>
    public static object? Load(string path, ReadOnlySpan<byte> data, ref int pos)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        try
        {
            while (true)
            {
                if (pos >= data.Length) throw new WeightsException(path, "truncated pickle (no STOP opcode)");
                byte op = data[pos++];
                switch (op)
                {
                    case 0x80: pos += 1; break; // PROTO
                    case 0x95: pos += 8; break; // FRAME
                    case (byte)'.': // STOP
                        if (stack.Count != 1) throw new WeightsException(path, "malformed pickle (stack not balanced at STOP)");
                        return stack[0];
                    case (byte)'}': stack.Add(new Dict()); break;
                    case (byte)']': stack.Add(new List<object?>()); break;
                    case (byte)')': stack.Add(Array.Empty<object?>()); break;
                    case (byte)'(': stack.Add(Mark.Instance); break;
                    case (byte)'N': stack.Add(null); break;
                    case 0x88: stack.Add(true); break;
                    case 0x89: stack.Add(false); break;
                    case (byte)'K': stack.Add((long)data[pos]); pos += 1; break;
                    case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(data[pos..])); pos += 2; break;
                    case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(data[pos..])); pos += 4; break;
                    case 0x8a: // LONG1
                    {
                        int n = data[pos++];
                        if (n > 8)
                        {
                            // Only torch's legacy magic number (80 bits) is this wide in a state dict file.
                            if (n > 16) throw new WeightsException(path, "pickle integer wider than 128 bits");
                            stack.Add(new System.Numerics.BigInteger(data.Slice(pos, n), isUnsigned: false, isBigEndian: false));
                            pos += n;
                            break;
                        }
                        long v = 0;
                        for (int i = n - 1; i >= 0; i--) v = (v << 8) | data[pos + i];
                        if (n is > 0 and < 8 && (data[pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        pos += n;
                        stack.Add(v);
                        break;
                    }
                    case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(data[pos..])); pos += 8; break;
                    case (byte)'X': // BINUNICODE
                    {
                        int n = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(data[pos..])); pos += 4;
                        stack.Add(Encoding.UTF8.GetString(data.Slice(pos, n))); pos += n;
                        break;
                    }
                    case 0x8c: // SHORT_BINUNICODE
                    {
                        int n = data[pos++];
                        stack.Add(Encoding.UTF8.GetString(data.Slice(pos, n))); pos += n;
                        break;
                    }
                    case (byte)'U': // SHORT_BINSTRING
                    {
                        int n = data[pos++];
                        stack.Add(Encoding.Latin1.GetString(data.Slice(pos, n))); pos += n;
                        break;
                    }
                    case (byte)'T': // BINSTRING
                    {
                        int n = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(data[pos..])); pos += 4;
                        stack.Add(Encoding.Latin1.GetString(data.Slice(pos, n))); pos += n;
                        break;
                    }
                    case (byte)'q': memo[data[pos]] = Top(stack); pos += 1; break;
                    case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(data[pos..])] = Top(stack); pos += 4; break;
                    case 0x94: memo[memo.Count] = Top(stack); break; // MEMOIZE
                    case (byte)'h': stack.Add(Memo(path, memo, data[pos])); pos += 1; break;
                    case (byte)'j': stack.Add(Memo(path, memo, BinaryPrimitives.ReadUInt32LittleEndian(data[pos..]))); pos += 4; break;
                    case (byte)'c': // GLOBAL "module\nname\n"
                    {
                        var module = ReadLine(data, ref pos);
                        var name = ReadLine(data, ref pos);
                        stack.Add(Resolve(path, module, name));
                        break;
                    }
                    case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop(stack) as string;
                        var module = Pop(stack) as string;
                        if (name is null || module is null) throw new WeightsException(path, "malformed pickle (STACK_GLOBAL without strings)");
                        stack.Add(Resolve(path, module, name));
                        break;
                    }
                    case (byte)'t': stack.Add(PopToMark(stack).ToArray()); break;
                    case 0x85: stack.Add(new[] { Pop(stack) }); break;
                    case 0x86: { var b = Pop(stack); var a = Pop(stack); stack.Add(new[] { a, b }); break; }
                    case 0x87: { var c = Pop(stack); var b = Pop(stack); var a = Pop(stack); stack.Add(new[] { a, b, c }); break; }
                    case (byte)'l': stack.Add(PopToMark(stack)); break;
                    case (byte)'a': { var v = Pop(stack); AsList(path, Top(stack)).Add(v); break; }
                    case (byte)'e': { var items = PopToMark(stack); AsList(path, Top(stack)).AddRange(items); break; }
                    case (byte)'s': { var v = Pop(stack); var k = Pop(stack); AsDict(path, Top(stack)).Items.Add(new(k, v)); break; }
                    case (byte)'u':
                    {
                        var items = PopToMark(stack);
                        if (items.Count % 2 != 0) throw new WeightsException(path, "malformed pickle (odd SETITEMS)");
                        var dict = AsDict(path, Top(stack));
                        for (int i = 0; i < items.Count; i += 2) dict.Items.Add(new(items[i], items[i + 1]));
                        break;
                    }
                    case (byte)'Q': stack.Add(PersistentId(path, Pop(stack))); break; // BINPERSID
                    case (byte)'R': // REDUCE
                    {
                        var args = Pop(stack) as object?[] ?? throw new WeightsException(path, "malformed pickle (REDUCE without a tuple)");
                        var fn = Pop(stack) as Global ?? throw new WeightsException(path, "pickle calls something that is not an allowed global");
                        stack.Add(Reduce(path, fn, args));
                        break;
                    }
                    case (byte)'b': // BUILD: the state of an OrderedDict (its _metadata) or of a parameter; not needed.
                        Pop(stack);
                        if (Top(stack) is not (Dict or TensorRef)) throw new WeightsException(path, "pickle BUILD on an unexpected object");
                        break;
                    default:
                        throw new WeightsException(path, $"pickle opcode 0x{op:x2} at byte {pos - 1} is not allowed in a state dict");
                }
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException or Truncated)
        {
            throw new WeightsException(path, "truncated or corrupt pickle", e);
        }
    }

    private static Global Resolve(string path, string module, string name)
    {
        var full = module + "." + name;
        if (!AllowedGlobals.Contains(full))
            throw new WeightsException(path, $"pickle refers to forbidden global '{full}' (only state dicts of tensors are accepted)");
        return new Global(module, name);
    }

    private static object? Reduce(string path, Global fn, object?[] args)
    {
        switch (fn.FullName)
        {
            case "collections.OrderedDict":
                if (args.Length != 0) throw new WeightsException(path, "OrderedDict built with arguments is not supported");
                return new Dict();
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor":
            {
                if (args.Length < 4 || args[0] is not StorageRef storage || args[1] is not long offset)
                    throw new WeightsException(path, "malformed tensor in pickle");
                return new TensorRef(storage, offset, Longs(path, args[2]), Longs(path, args[3]));
            }
            case "torch._utils._rebuild_parameter":
                if (args.Length < 1 || args[0] is not TensorRef t) throw new WeightsException(path, "malformed parameter in pickle");
                return t;
            default:
                throw new WeightsException(path, $"pickle calls '{fn.FullName}', which is not allowed");
        }
    }

    private static StorageRef PersistentId(string path, object? pid)
    {
        // zip format: ('storage', type, key, location, numel); legacy adds view metadata as a sixth item.
        if (pid is not object?[] t || t.Length < 5 || t[0] as string != "storage" || t[1] is not Global type || t[4] is not long numel)
            throw new WeightsException(path, "pickle persistent id is not a tensor storage");
        var key = t[2]?.ToString() ?? throw new WeightsException(path, "storage without a key");
        try { return new StorageRef(StorageDType(type.Name), key, numel); }
        catch (InvalidDataException e) { throw new WeightsException(path, e.Message, e); }
    }

    private static long[] Longs(string path, object? v)
        => v is object?[] t && t.All(x => x is long) ? t.Select(x => (long)x!).ToArray()
            : throw new WeightsException(path, "malformed tensor size or stride in pickle");

    private static object? Memo(string path, Dictionary<long, object?> memo, long key)
        => memo.TryGetValue(key, out var v) ? v : throw new WeightsException(path, $"pickle refers to memo {key}, never stored");

    private static object? Top(List<object?> stack) => stack.Count > 0 ? stack[^1] : throw new Truncated();

    private static object? Pop(List<object?> stack)
    {
        var v = Top(stack);
        stack.RemoveAt(stack.Count - 1);
        if (v is Mark) throw new Truncated();
        return v;
    }

    private static List<object?> PopToMark(List<object?> stack)
    {
        int m = stack.FindLastIndex(x => x is Mark);
        if (m < 0) throw new Truncated();
        var items = stack.GetRange(m + 1, stack.Count - m - 1);
        stack.RemoveRange(m, stack.Count - m);
        return items;
    }

    private static List<object?> AsList(string path, object? v) => v as List<object?> ?? throw new WeightsException(path,
        "malformed pickle (APPEND to a non-list)");

    private static Dict AsDict(string path, object? v) => v as Dict ?? throw new WeightsException(path, "malformed pickle (SETITEM on a non-dict)");

    private static string ReadLine(ReadOnlySpan<byte> data, ref int pos)
    {
        int end = data[pos..].IndexOf((byte)'\n');
        if (end < 0 || end > 256) throw new Truncated();
        var s = Encoding.ASCII.GetString(data.Slice(pos, end));
        pos += end + 1;
        return s;
    }
}
