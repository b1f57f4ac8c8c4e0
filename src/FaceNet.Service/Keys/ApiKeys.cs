using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceNet.Service.Keys;

/// <summary>What a key may do. <see cref="Admin"/> may do everything.</summary>
public enum Scope { Verify, Identify, Enroll, Admin }

/// <summary>One key as the keys file holds it: never the key, only its SHA-256.</summary>
public sealed record ApiKey(string Name, string Sha256, IReadOnlyList<Scope> Scopes, double RatePerSecond, DateTime Created)
{
    /// <summary>The tenant whose gallery the key acts on (absent in older keys files: <c>default</c>).</summary>
    public string? Tenant { get; init; }

    [JsonIgnore]
    public string TenantName => Tenant ?? Tenants.Default;

    public bool Allows(Scope scope) => Scopes.Contains(scope) || Scopes.Contains(Scope.Admin);
}

/// <summary>A keys file that cannot be used, or a key operation that cannot be done.</summary>
public sealed class KeysException(string file, string reason) : FaceNetException(file, reason);

/// <summary>
/// The service's API keys, in a JSON file of names, scopes, rates and SHA-256 hashes. A key is 32 random
/// bytes (256 bits), so a plain SHA-256 suffices to store it: nothing can be guessed from the hash, and no
/// slow password hash is needed. Presented keys are compared with every stored hash in constant time.
/// </summary>
public sealed class ApiKeys
{
    public const string Prefix = "fnk_";
    public const double DefaultRate = 20;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private sealed record KeysFile(int Version, List<ApiKey> Keys);

    private ApiKeys(string path, List<ApiKey> keys)
    {
        Path = path;
        All = keys;
    }

    public string Path { get; }
    public IReadOnlyList<ApiKey> All { get; }

    /// <summary>Reads the keys file; a missing file is an empty set of keys.</summary>
    public static ApiKeys Load(string path)
    {
        if (!File.Exists(path)) return new ApiKeys(path, []);
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > 16 << 20) throw new KeysException(path, "keys file over 16 MB");
            var file = JsonSerializer.Deserialize<KeysFile>(bytes, Json) ?? throw new KeysException(path, "empty keys file");
            foreach (var k in file.Keys)
                if (k.Name is null || k.Sha256 is not { Length: 64 } || k.Scopes is null || !(k.RatePerSecond > 0))
                    throw new KeysException(path, $"key '{k.Name}' is incomplete (name, sha256, scopes, rate per second)");
            return new ApiKeys(path, file.Keys);
        }
        catch (JsonException e) { throw new KeysException(path, "not a keys file: " + e.Message); }
        catch (IOException e) { throw new KeysException(path, e.Message); }
        catch (UnauthorizedAccessException) { throw new KeysException(path, "permission denied"); }
    }

    /// <summary>Adds a key and returns it: the only time it is ever seen.</summary>
    public static string Add(string path, string name, IReadOnlyList<Scope> scopes, double ratePerSecond = DefaultRate, string tenant = Tenants.Default)
    {
        ValidateName(path, name);
        if (!Tenants.IsName(tenant)) throw new KeysException(path, $"'{tenant}' is not a tenant name ({Tenants.NameRule})");
        if (scopes.Count == 0) throw new KeysException(path, "a key needs at least one scope (verify, identify, enroll, admin)");
        if (!(ratePerSecond > 0) || double.IsInfinity(ratePerSecond)) throw new KeysException(path,
            "the rate must be a positive number of requests per second");
        var keys = Load(path).All.ToList();
        if (keys.Any(k => k.Name == name)) throw new KeysException(path, $"a key named '{name}' exists already (revoke it first)");
        var key = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        keys.Add(new ApiKey(name, Hash(key), scopes.Distinct().ToList(), ratePerSecond, DateTime.UtcNow) { Tenant = tenant });
        Save(path, keys);
        return key;
    }

    /// <summary>Removes a key; false when there is none of that name.</summary>
    public static bool Revoke(string path, string name)
    {
        var keys = Load(path).All.ToList();
        if (keys.RemoveAll(k => k.Name == name) == 0) return false;
        Save(path, keys);
        return true;
    }

    /// <summary>The key that <paramref name="presented"/> is, or null. Every stored hash is compared, each in constant time.</summary>
    public ApiKey? Find(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 200) return null;
        var hash = Convert.FromHexString(Hash(presented));
        ApiKey? found = null;
        foreach (var k in All)
            if (CryptographicOperations.FixedTimeEquals(hash, Convert.FromHexString(k.Sha256))) found = k;
        return found;
    }

    public static Scope ParseScope(string path, string s) => s.Trim().ToLowerInvariant() switch
    {
        "verify" => Scope.Verify,
        "identify" => Scope.Identify,
        "enroll" or "enrol" => Scope.Enroll,
        "admin" => Scope.Admin,
        _ => throw new KeysException(path, $"unknown scope '{s}' (verify, identify, enroll, admin)"),
    };

    internal static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static void ValidateName(string path, string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100 || name.Any(char.IsControl) || name != name.Trim())
            throw new KeysException(path, "a key's name is 1 to 100 characters, no control characters, no leading or trailing space");
    }

    private static void Save(string path, List<ApiKey> keys)
    {
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(new KeysFile(1, keys), Json));
        // hashes only, but still nobody else's business
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
