namespace FaceNet.Gallery;

/// <summary>The operations the audit trail names.</summary>
public static class AuditOperations
{
    public const string Verify = "verify", Identify = "identify", Enroll = "enroll", Delete = "delete", Rename = "rename", List = "list",
        Embed = "embed", Detect = "detect", Encrypt = "encrypt", Rekey = "rekey", Expire = "expire",
        TenantList = "tenant list", TenantCreate = "tenant create", TenantRemove = "tenant remove", ClusterStatus = "cluster status",
        Authenticate = "authenticate", AuditPrune = "audit prune", Liveness = "liveness";
}
