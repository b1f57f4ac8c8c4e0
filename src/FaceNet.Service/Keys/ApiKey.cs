using System.Text.Json.Serialization;

namespace FaceNet.Service.Keys;

/// <summary>One key as the keys file holds it: never the key, only its SHA-256.</summary>
public sealed record ApiKey(string Name, string Sha256, IReadOnlyList<Scope> Scopes, double RatePerSecond, DateTime Created)
{
    /// <summary>The tenant whose gallery the key acts on (absent in older keys files: <c>default</c>).</summary>
    public string? Tenant { get; init; }

    /// <summary>
    /// The key's id, which the audit trail names: the first 12 hex digits of its hash (older keys files have none:
    /// it is the same digits, so an id never changes). It tells nothing of the key: the key is 256 random bits.
    /// </summary>
    public string? Id { get; init; }

    /// <summary>When the key was revoked; a revoked key stays in the file, refused but known by its id.</summary>
    public DateTime? Revoked { get; init; }

    [JsonIgnore]
    public string TenantName => Tenant ?? Tenants.Default;

    [JsonIgnore]
    public string KeyId => Id ?? ApiKeys.IdOf(Sha256);

    public bool Allows(Scope scope) => Scopes.Contains(scope) || Scopes.Contains(Scope.Admin);
}
