using FaceNet.Gallery;
using Microsoft.Data.Sqlite;
using Npgsql;
using static FaceNet.Tests.Gallery.RandomFaces;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// Two processes' galleries on one store (two <see cref="FaceGallery"/> objects, each with its own
/// connection and index, as two service replicas have): what one writes, the other sees through the
/// change feed, in order; erasure reaches the feed too. Run on SQLite and on a real PostgreSQL.
/// </summary>
[Collection("postgres")]
public sealed class ChangeFeedTests(PostgresServer postgres) : IDisposable
{
    private static readonly GalleryModel Model = new("feed-model:01", 32, "fixed", FaceNet.Matching.Metric.Euclidean);
    private readonly TempFolder _temp = new("facenet-feed-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private string Location(string kind) => kind == "sqlite" ? Path.Combine(_dir, "g.db") : postgres.NewDatabase();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_replica_sees_enrolments_renames_and_erasures_made_through_another(string kind)
    {
        var where = Location(kind);
        var r = new Random(3);
        var ann = Unit(r, 32);
        var bob = Unit(r, 32);
        using var one = FaceGallery.Open(where, Model);
        using var two = FaceGallery.Open(where, Model);
        Assert.Equal(0, two.FaceCount);

        one.Enroll("Ann", [new NewFace(Near(ann, r, 0.1f)), new NewFace(Near(ann, r, 0.1f))]);
        one.Enroll("Bob", [new NewFace(Near(bob, r, 0.1f))]);
        Assert.False(two.Identify(Near(ann, r, 0.1f), 0.8).Known); // not yet followed
        Assert.Equal(2, two.Refresh());
        Assert.Equal("Ann", two.Identify(Near(ann, r, 0.1f), 0.8).Name);
        Assert.Equal("Bob", two.Identify(Near(bob, r, 0.1f), 0.8).Name);
        Assert.Equal(3, two.FaceCount);
        Assert.Equal(one.Sequence, two.Sequence);

        two.Rename("Ann", "Anna");                 // the other way round
        one.Refresh();
        Assert.Equal("Anna", one.Identify(Near(ann, r, 0.1f), 0.8).Name);

        one.Remove("Bob");
        two.Refresh();
        var gone = two.Identify(Near(bob, r, 0.1f), 0.8, top: 5);
        Assert.False(gone.Known);
        Assert.DoesNotContain(gone.Candidates, c => c.Name == "Bob");

        // a face enrolled again under a freed name is a new subject, not the erased one
        one.Enroll("Bob", [new NewFace(Near(ann, r, 0.1f))]);
        two.Refresh();
        Assert.Equal(2, two.Identify(Near(ann, r, 0.05f), 0.8, top: 5).Candidates.Count);
        Assert.Equal(3, two.FaceCount);

        // the erased subject's name is nowhere in the feed any more
        using var store = GalleryStores.Open(where, Model, readOnly: true);
        var feed = store.ChangesSince(0)!;
        Assert.Equal(5, feed.Count);
        Assert.Equal([ChangeKind.Enrolled, ChangeKind.Enrolled, ChangeKind.Renamed, ChangeKind.Removed, ChangeKind.Enrolled], feed.Select(c => c.Kind));
        Assert.Empty(feed[1].Faces);                // Bob's first enrolment: erased
        Assert.Null(feed[3].Name);
        Assert.Equal("Anna", feed[0].Name);         // current names
        Assert.Equal(2, feed[0].Faces.Count);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_follower_too_far_behind_reloads_the_whole_gallery(string kind)
    {
        var where = Location(kind);
        var r = new Random(4);
        var ann = Unit(r, 32);
        using var one = FaceGallery.Open(where, Model);
        using var two = FaceGallery.Open(where, Model);
        one.Enroll("Ann", [new NewFace(Near(ann, r, 0.1f))]);
        one.Enroll("Cid", [new NewFace(Unit(r, 32))]);
        // as if the feed had been trimmed past what the follower has read
        if (kind == "sqlite")
        {
            using var c = new SqliteConnection($"Data Source={where};Pooling=False");
            c.Open();
            using var cmd = new SqliteCommand("UPDATE meta SET value = '2' WHERE key = 'feed_pruned_through'; DELETE FROM changes;", c);
            cmd.ExecuteNonQuery();
        }
        else
        {
            using var c = new NpgsqlConnection(where);
            c.Open();
            using var cmd = new NpgsqlCommand("UPDATE facenet.meta SET value = '2' WHERE key = 'feed_pruned_through'; DELETE FROM facenet.changes;", c);
            cmd.ExecuteNonQuery();
        }
        Assert.Null(one.Store.ChangesSince(0));
        two.Refresh();
        Assert.Equal("Ann", two.Identify(Near(ann, r, 0.1f), 0.8).Name);
        Assert.Equal(2, two.FaceCount);
    }

    [Fact]
    public async Task A_postgres_replica_follows_another_within_a_second_without_being_asked()
    {
        var where = postgres.NewDatabase();
        var r = new Random(5);
        var ann = Unit(r, 32);
        using var one = FaceGallery.Open(where, Model);
        using var two = FaceGallery.Open(where, Model);
        using var stop = new CancellationTokenSource();
        // a long poll: only the NOTIFY can wake the follower within the second asked for
        var follow = two.FollowAsync(TimeSpan.FromSeconds(30), ct: stop.Token);
        await Task.Delay(300);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        one.Enroll("Ann", [new NewFace(Near(ann, r, 0.1f))]);
        while (!two.Identify(Near(ann, r, 0.1f), 0.8).Known && sw.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(10);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"seen after {sw.Elapsed.TotalMilliseconds:F0} ms");
        sw.Restart();
        one.Remove("Ann");
        while (two.Identify(Near(ann, r, 0.1f), 0.8).Known && sw.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(10);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"erasure seen after {sw.Elapsed.TotalMilliseconds:F0} ms");
        stop.Cancel();
        await follow;
    }

    [Fact]
    public void Postgres_gallery_keeps_its_model_binding_and_names_the_database_without_its_password()
    {
        var where = postgres.NewDatabase() + ";Password=hunter2";
        using (var g = GalleryStores.Open(where, Model)) g.Enroll("Ann", [new NewFace(Unit(new Random(1), 32))]);
        var e = Assert.Throws<GalleryException>(() => GalleryStores.Open(where, Model with { Id = "other:1" }));
        Assert.True(e.ModelMismatch);
        Assert.DoesNotContain("hunter2", e.Message);
        Assert.StartsWith("postgres:", e.File);
        using var again = GalleryStores.Open(where, null, readOnly: true);
        Assert.Equal(Model, again.Model);
        Assert.Single(again.Subjects());

        var nobody = Assert.Throws<GalleryException>(() => GalleryStores.Open($"Host=127.0.0.1;Port={FreePort.Next()};Username=postgres;Database=x;Timeout=3", Model));
        Assert.Contains("cannot open the gallery database", nobody.Reason);
    }

}
