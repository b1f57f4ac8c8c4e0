using System.Collections.Concurrent;
using FaceNet.Embedding;
using FaceNet.Gallery;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

/// <summary>One gallery, many threads: what a service does to it.</summary>
public sealed class ConcurrencyTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-race-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(int.MaxValue)] // exact search
    [InlineData(500)]          // HNSW from 500 faces on
    public void Threads_enrolling_identifying_renaming_and_removing_get_answers_some_order_of_operations_would_give(int approximateFrom)
    {
        const int dim = 64, people = 100, perPerson = 10;
        var db = Path.Combine(_dir, "g.db");
        var model = new GalleryModel("m", dim, "fixed", FaceNet.Matching.Metric.Euclidean);
        var seed = new Random(3);
        var centres = Enumerable.Range(0, people).Select(_ => Unit(seed, dim)).ToArray();
        using (var store = GalleryStore.Open(db, model))
            for (int p = 0; p < people; p++)
                store.Enroll($"P{p}", Enumerable.Range(0, perPerson).Select(_ => new NewFace(Near(centres[p], seed, 0.3f))).ToList());

        using var gallery = FaceGallery.Open(db, model, indexOptions: new FaceIndexOptions { ApproximateFrom = approximateFrom });
        Assert.Equal(people * perPerson, gallery.FaceCount);

        // What may be said of each person: P0–P49 are renamed back and forth (either name), P50–P59 are
        // removed (their name, or unknown), P60–P99 stay. Newcomers N… are enrolled, some removed again.
        var newcomers = new ConcurrentDictionary<string, float[]>();
        var errors = new ConcurrentQueue<string>();
        var exceptions = new ConcurrentQueue<Exception>();
        int identifications = 0, enrolments = 0, removals = 0, renames = 0;
        // at least 4 s, and until every kind of operation has happened often enough to overlap the others
        // (a loaded machine is slower); never more than 30 s
        var started = DateTime.UtcNow;
        bool Done() => (DateTime.UtcNow - started).TotalSeconds >= 30
            || ((DateTime.UtcNow - started).TotalSeconds >= 4 && identifications > 200 && enrolments >= 10 && removals >= 10 && renames >= 10);

        void Guarded(Action body)
        {
            try { while (!Done()) body(); }
            catch (Exception e) { exceptions.Enqueue(e); }
        }

        var threads = new List<Thread>();
        for (int t = 0; t < 3; t++)
        {
            int id = t;
            threads.Add(new Thread(() =>
            {
                var r = new Random(100 + id);
                Guarded(() =>
                {
                    int p = r.Next(people);
                    var answer = gallery.Identify(Near(centres[p], r, 0.3f), 0.8, top: 3, aggregation: r.Next(2) == 0 ? Aggregation.Min : Aggregation.Mean);
                    Interlocked.Increment(ref identifications);
                    bool ok = p < 50 ? answer.Name == $"P{p}" || answer.Name == $"Q{p}"
                        : p < 60 ? answer.Name == $"P{p}" || answer.Name is null
                        : answer.Name == $"P{p}";
                    if (!ok) errors.Enqueue($"P{p} answered as {answer.Name ?? "unknown"} ({answer.Distance:F3}; candidates {string.Join(", ", answer.Candidates.Select(c => $"{c.Name} {c.Distance:F3}"))})");
                    if (newcomers.Keys.FirstOrDefault() is { } n && newcomers.TryGetValue(n, out var v))
                    {
                        var a = gallery.Identify(Near(v, r, 0.1f), 0.8);
                        if (a.Name is not null && a.Name != n) errors.Enqueue($"{n} answered as {a.Name}");
                    }
                });
            }));
        }
        for (int t = 0; t < 2; t++)
        {
            int id = t;
            threads.Add(new Thread(() =>
            {
                var r = new Random(200 + id);
                int k = 0;
                Guarded(() =>
                {
                    var name = $"N{id}-{k++}";
                    var centre = Unit(r, dim);
                    gallery.Enroll(name, [new NewFace(Near(centre, r, 0.1f)), new NewFace(Near(centre, r, 0.1f))]);
                    newcomers[name] = centre;
                    Interlocked.Increment(ref enrolments);
                });
            }));
        }
        threads.Add(new Thread(() =>
        {
            var r = new Random(300);
            int next = 50;
            Guarded(() =>
            {
                if (next < 60) { Assert.True(gallery.Remove($"P{next++}")); Interlocked.Increment(ref removals); }
                if (newcomers.Keys.Skip(r.Next(Math.Max(1, newcomers.Count))).FirstOrDefault() is { } n && newcomers.TryRemove(n, out _))
                {
                    gallery.Remove(n);
                    Interlocked.Increment(ref removals);
                }
                Thread.Sleep(5);
            });
        }));
        threads.Add(new Thread(() =>
        {
            var r = new Random(400);
            Guarded(() =>
            {
                int p = r.Next(50);
                if (!gallery.Rename($"P{p}", $"Q{p}")) gallery.Rename($"Q{p}", $"P{p}");
                Interlocked.Increment(ref renames);
            });
        }));
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        Assert.Empty(exceptions);
        Assert.True(errors.IsEmpty, $"{errors.Count} inconsistent answers, e.g. {string.Join("; ", errors.Take(5))}");
        Assert.True(identifications > 200 && enrolments >= 10 && removals >= 10 && renames >= 10,
            $"the threads overlapped too little to prove anything: {identifications} identifications, {enrolments} enrolments, {removals} removals, {renames} renames");

        // the live gallery and a fresh one read from the file agree on everyone
        using var fresh = FaceGallery.Open(db, model, readOnly: true, indexOptions: new FaceIndexOptions { ApproximateFrom = approximateFrom });
        Assert.Equal(fresh.FaceCount, gallery.FaceCount);
        var probe = new Random(500);
        for (int p = 0; p < people; p++)
        {
            var q = Near(centres[p], probe, 0.2f);
            Assert.Equal(fresh.Identify(q, 0.8).Name, gallery.Identify(q, 0.8).Name);
        }
        foreach (var (name, centre) in newcomers) Assert.Equal(name, gallery.Identify(centre, 0.8).Name);
    }
}
