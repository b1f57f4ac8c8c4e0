namespace FaceNet.Service;

/// <summary>How <c>facenet serve</c> runs; every field has a default that suits one machine.</summary>
public sealed record ServiceOptions
{
    /// <summary>Where Kestrel listens (default http://127.0.0.1:5080; port 0 picks a free one).</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5080";

    /// <summary>
    /// A PEM certificate (chain) file and its PEM private key: Kestrel serves HTTPS with them (TLS 1.2 or 1.3),
    /// and answers over HTTPS carry HSTS. With a certificate, <see cref="Urls"/> names https:// addresses;
    /// an http:// one listens in the clear only because it was asked for.
    /// </summary>
    public string? HttpsCertificateFile { get; init; }

    /// <summary>The private key of <see cref="HttpsCertificateFile"/> (PEM, unencrypted).</summary>
    public string? HttpsKeyFile { get; init; }

    /// <summary>A gallery: an SQLite file or a PostgreSQL connection string; null: verify, embed and detect only.</summary>
    public string? Gallery { get; init; }

    /// <summary>
    /// Makes this process a silo of a cluster over the <see cref="Gallery"/> PostgreSQL database as well as a front end:
    /// the gallery is cut into shards over the silos, and this process keeps only the shards placed on it
    /// (see FaceNet.Cluster). Null: the whole gallery in this process. Taken by <see cref="FaceServiceHost"/>, which makes the
    /// process a silo; <c>AddFaceNet</c> in an app's own host refuses it (a <see cref="SettingException"/>).
    /// </summary>
    public Cluster.FaceClusterOptions? Cluster { get; init; }

    /// <summary>The master key of an encrypted gallery (a new gallery given one is encrypted); the service does not start without the right one.</summary>
    public Gallery.Protection.MasterKey? MasterKey { get; init; }

    /// <summary>
    /// Subjects neither enrolled nor matched for this long are erased by a background sweep (see
    /// <see cref="Gallery.Protection.Retention"/>); null keeps them until they are removed.
    /// </summary>
    public TimeSpan? Retention { get; init; }

    /// <summary>A tenant's own retention period, instead of <see cref="Retention"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> TenantRetention { get; init; } = new Dictionary<string, TimeSpan>();

    /// <summary>How often the retention sweep runs (default hourly; also once at start).</summary>
    public TimeSpan RetentionSweep { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long the audit trail keeps its entries (default 400 days); older ones are deleted by the retention sweep,
    /// which records each deletion in the trail. Null keeps them for ever.
    /// </summary>
    public TimeSpan? AuditRetention { get; init; } = TimeSpan.FromDays(400);

    /// <summary>
    /// Failed authentications (no key, an unknown or a revoked key) allowed per client address and minute (default 30,
    /// in a burst); beyond it 429 with Retry-After. Only failures count: a valid key from that address still works.
    /// </summary>
    public int FailedAuthPerMinute { get; init; } = 30;

    /// <summary>
    /// Proxies whose X-Forwarded-For is believed for the client's address (audit trail, failed-authentication limit);
    /// otherwise the address is the connection's.
    /// </summary>
    public IReadOnlyList<System.Net.IPAddress> TrustedProxies { get; init; } = [];

    /// <summary>Faces of one photo that are aligned and embedded at most (default 64): the largest are kept, and the answer says how many were dropped.</summary>
    public int MaxFaces { get; init; } = 64;

    /// <summary>
    /// Decoded pixels of all requests' photos in memory at once (default 100 MP, about 400 MB decoded): a request whose
    /// photo does not fit waits for others to finish (within its time limit, else 503).
    /// </summary>
    public long MaxPixelsInFlight { get; init; } = 100_000_000;

    /// <summary>The API keys file (<c>facenet keys add</c>).</summary>
    public string KeysFile { get; init; } = "keys.json";

    /// <summary>The recognizer: model, detector, threads (the library's defaults unless set).</summary>
    public FaceRecognizerOptions Recognizer { get; init; } = new();

    /// <summary>Largest request body (default 10 MB): larger ones get 413.</summary>
    public long MaxBodyBytes { get; init; } = 10L * 1024 * 1024;

    /// <summary>Largest decoded photo, in pixels (default 36 MP), checked from its header.</summary>
    public long MaxPixels { get; init; } = 36_000_000;

    /// <summary>
    /// Requests decoding and detecting at once (default: half the cores). Detection runs one thread per
    /// request and the embedding loop gets the other cores: on 2 cores, one detects while the other
    /// embeds, which measured 45 faces/s at 16 clients against 31 with every network on both cores.
    /// </summary>
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Requests in the process at most, working or waiting (default 64); beyond it 503 with Retry-After.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>Faces per ONNX Runtime call at most (default 32).</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>How long a part-filled batch waits for other requests' faces (default 2 ms).</summary>
    public TimeSpan BatchWait { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>A request's time limit, from its arrival (default 30 s); beyond it 503.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often an SQLite gallery is checked for other processes' changes (PostgreSQL wakes at once).</summary>
    public TimeSpan FollowPoll { get; init; } = TimeSpan.FromSeconds(1);
}
