namespace FaceNet.Gallery;

/// <summary>
/// One entry of a gallery's audit trail: when (set by the store), who (an API key's name, or the user of the
/// command line), which operation, about which subject, with what outcome — never a template or an image.
/// <see cref="Matched"/>: the subject was enrolled or recognised, which keeps it from expiring (retention).
/// </summary>
public sealed record AuditEvent(string Actor, string Operation, string Outcome, string? Subject = null, long? SubjectId = null)
{
    public long Sequence { get; init; }

    /// <summary>When: set by the store as it writes, unless given (a row that counts a past minute's refusals).</summary>
    public DateTime At { get; init; }
    public bool Matched { get; init; }

    /// <summary>The client's network address (the service's requests), or null.</summary>
    public string? Client { get; init; }

    /// <summary>How many requests the row stands for: 1, or a minute's refused requests of one client counted together.</summary>
    public int Count { get; init; } = 1;
}
