namespace FaceNet.Gallery.Protection;

/// <summary>
/// Retention of biometric data: a subject neither enrolled nor matched within the period is erased, with the
/// same guarantee as <see cref="IGalleryStore.RemoveSubject"/> (rows overwritten, name blanked in the change
/// feed and the audit trail). "Matched" is an identification that named the subject (the top candidate
/// within the threshold) or a new face enrolled for it; being a lower candidate, listing subjects or a
/// 1:1 verification does not refresh it.
/// </summary>
public static class Retention
{
    /// <summary>Erases the subjects unused for longer than <paramref name="period"/>; their number. Each erasure is an <c>expire</c> event in the audit trail.</summary>
    public static int Purge(IGalleryStore store, TimeSpan period, string actor, DateTime? now = null)
        => Purge(store, period, actor, name => store.RemoveSubject(name) is not null, now);

    /// <summary>As <see cref="Purge(IGalleryStore, TimeSpan, string, DateTime?)"/>, through a live gallery (its index follows).</summary>
    public static int Purge(FaceGallery gallery, TimeSpan period, string actor, DateTime? now = null)
        => Purge(gallery.Store, period, actor, gallery.Remove, now);

    private static int Purge(IGalleryStore store, TimeSpan period, string actor, Func<string, bool> remove, DateTime? now)
    {
        if (period <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(period), "a retention period is longer than zero");
        var cutoff = (now ?? DateTime.UtcNow) - period;
        int erased = 0;
        foreach (var name in store.UnusedSince(cutoff))
        {
            if (!remove(name)) continue; // gone already (another replica's sweep)
            erased++;
            store.Audit(new AuditEvent(actor, AuditOperations.Expire, $"erased: unused for {period.TotalDays:0.##} days"));
        }
        return erased;
    }

    /// <summary>A period as people write it: <c>90d</c>, <c>12h</c>, <c>30m</c> (days, hours, minutes).</summary>
    public static TimeSpan ParsePeriod(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t.Length >= 2 && double.TryParse(t[..^1], System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 && double.IsFinite(n))
        {
            switch (t[^1])
            {
                case 'd': return TimeSpan.FromDays(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'm': return TimeSpan.FromMinutes(n);
            }
        }
        throw new FormatException($"'{text}' is not a period (write 90d, 12h or 30m)");
    }
}
