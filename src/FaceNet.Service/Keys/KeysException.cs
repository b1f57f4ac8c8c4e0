namespace FaceNet.Service.Keys;

/// <summary>A keys file that cannot be used, or a key operation that cannot be done.</summary>
public sealed class KeysException(string file, string reason) : FaceNetException(file, reason);
