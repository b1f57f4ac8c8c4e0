namespace FaceNet.Service;

/// <summary>A tenant that does not exist, cannot be opened now, or cannot be made or removed here.</summary>
public sealed class TenantException(string tenant, string reason, FaceNetErrorKind kind) : FaceNetException("tenant " + tenant, reason, kind: kind);
