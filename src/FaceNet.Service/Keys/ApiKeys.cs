using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceNet.Service.Keys;

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

    /// <summary>Every key of the file, revoked ones included.</summary>
    public IReadOnlyList<ApiKey> All { get; }

    /// <summary>The keys in force (not revoked).</summary>
    public IEnumerable<ApiKey> Active => All.Where(k => k.Revoked is null);

    /// <summary>A key's id: the first 12 hex digits of its SHA-256.</summary>
    public static string IdOf(string sha256) => sha256[..12];

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
            return new ApiKeys(path, [.. file.Keys.Select(k => k.Id is null ? k with { Id = IdOf(k.Sha256) } : k)]);
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
        if (keys.Any(k => k.Name == name && k.Revoked is null)) throw new KeysException(path, $"a key named '{name}' exists already (revoke it first)");
        var key = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(key);
        keys.Add(new ApiKey(name, hash, scopes.Distinct().ToList(), ratePerSecond, DateTime.UtcNow) { Tenant = tenant, Id = IdOf(hash) });
        Save(path, keys);
        return key;
    }

    /// <summary>
    /// Revokes the key in force of that name: it stays in the file, marked revoked, so a later use of it is
    /// known by its id; false when no key in force has that name.
    /// </summary>
    public static bool Revoke(string path, string name)
    {
        var keys = Load(path).All.ToList();
        int i = keys.FindIndex(k => k.Name == name && k.Revoked is null);
        if (i < 0) return false;
        keys[i] = keys[i] with { Revoked = DateTime.UtcNow };
        Save(path, keys);
        return true;
    }

    /// <summary>
    /// The key that <paramref name="presented"/> is (revoked or not: see <see cref="ApiKey.Revoked"/>), or null.
    /// Every stored hash is compared, each in constant time.
    /// </summary>
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
        // hashes only, but still nobody else's business
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(new KeysFile(1, keys), Json), ownerOnly: true);
    }

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
