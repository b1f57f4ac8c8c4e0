namespace FaceNet.Cluster.Shards;

/// <summary>
/// A shard that cannot do what was asked now (its database is away, its rows cannot be read): what the store said,
/// in a form Orleans carries back to the caller (the store's own exceptions have no codec).
/// </summary>
[GenerateSerializer]
public sealed class ShardUnavailableException : Exception
{
    public ShardUnavailableException() { }

    public ShardUnavailableException(string message) : base(message) { }

    public ShardUnavailableException(string message, Exception inner) : base(message, inner) { }
}
