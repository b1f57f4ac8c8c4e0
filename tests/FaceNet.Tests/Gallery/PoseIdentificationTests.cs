using FaceNet.Gallery;
using FaceNet.Matching;
using FaceNet.Models;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace FaceNet.Tests.Gallery;

/// <summary>
/// Identification under the pose-aware rule (issue 27): stored faces keep their yaw (SQLite schema 5, PostgreSQL 4; faces of
/// the previous schema count as frontal), each candidate is held to the search's threshold plus its pose band's offset, exact
/// at the band edges, and candidates are ranked by how far inside their own threshold they lie.
/// </summary>
[Collection("postgres")]
public sealed class PoseIdentificationTests(PostgresServer postgres) : IDisposable
{
    private const int Dim = 8;
    private static readonly GalleryModel Model = new("pose-model:01", Dim, "fixed", Metric.Euclidean);

    // no impostor tail: the rule is the model's 1:1 threshold (0.80), and the bands add 0.05 from 15° and 0.10 from 45°
    private static readonly ModelInfo Info = new()
    {
        Name = "pose-model", Threshold = 0.80, EmbeddingSize = Dim,
        PoseThresholds = new PoseThresholds([new PoseBand(0, 0.80, 0.003, 10), new PoseBand(15, 0.85, 0.003, 10), new PoseBand(45, 0.90, 0.003, 10)], "test"),
    };

    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-pose-id-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    /// <summary>A unit vector at Euclidean distance <paramref name="d"/> from the first axis, turned towards axis <paramref name="axis"/>.</summary>
    private static float[] At(double d, int axis = 1)
    {
        double c = 1 - d * d / 2;
        var v = new float[Dim];
        v[0] = (float)c;
        v[axis] = (float)Math.Sqrt(1 - c * c);
        return v;
    }

    private static readonly float[] Probe = At(0);

    private FaceGallery Gallery(params (string Name, double Distance, double? Yaw)[] faces) => Gallery(false, faces);

    // compact: int8 codes in a graph from the first face, re-ranked from the store (the search of galleries from 10,000 faces)
    private FaceGallery Gallery(bool compact, params (string Name, double Distance, double? Yaw)[] faces)
    {
        var g = FaceGallery.Open(Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".db"), Model,
            indexOptions: compact ? new FaceIndexOptions { ApproximateFrom = 1 } : null);
        int axis = 1;
        foreach (var (name, d, yaw) in faces) g.Enroll(name, [new NewFace(At(d, axis++)) { Yaw = yaw }]);
        Assert.Equal(!compact, CompactSearchTests.FaceIndexOf(g).IsExact);
        return g;
    }

    [Theory]
    // probe yaw, stored yaw, expected threshold: the yaw difference ||a| − |b|| picks the band, an edge belongs to the band it starts
    [InlineData(5.0, 20.0, 0.85)]     // 15° exactly: the second band
    [InlineData(5.01, 20.0, 0.80)]    // 14.99°: the first
    [InlineData(-5.0, 20.0, 0.85)]    // the side a face turns to does not count
    [InlineData(-65.0, 20.0, 0.90)]   // 45° exactly: the third band
    [InlineData(-64.99, 20.0, 0.85)]  // 44.99°
    [InlineData(15.0, null, 0.85)]    // a face stored before poses were kept counts as frontal: 15° from it
    [InlineData(14.99, null, 0.80)]
    [InlineData(null, 60.0, 0.80)]    // a searching face without a pose: the first band
    public void The_band_rule_is_exact_at_its_edges(double? probeYaw, double? storedYaw, double threshold)
    {
        // one face at 0.84: inside 0.85 and 0.90, outside 0.80
        using var g = Gallery(("Ada", 0.84, storedYaw));
        var id = g.Identify(Probe, Info, new IdentifyOptions { Yaw = probeYaw });
        Assert.Equal(threshold, id.Threshold, 9);
        Assert.Equal(threshold, id.Candidates[0].Threshold, 9);
        Assert.Equal(0.84, id.Distance, 5);
        Assert.Equal(threshold > 0.84, id.Known);
        Assert.Equal(threshold > 0.84 ? "Ada" : null, id.Name);
        Assert.Equal(ThresholdRule.Verification, id.Rule!.Rule);
    }

    [Fact]
    public void A_given_threshold_is_one_value_for_every_candidate()
    {
        using var g = Gallery(("Ada", 0.84, 60.0));
        var id = g.Identify(Probe, Info, new IdentifyOptions { Yaw = 0, Threshold = 0.80 });
        Assert.False(id.Known);
        Assert.Equal(0.80, id.Threshold, 9);
        Assert.Equal(0.80, id.Candidates[0].Threshold, 9);
        // the fixed-threshold search without bands, and with the model's bands given explicitly (as video tracks search)
        Assert.False(g.Identify(Probe, 0.80).Known);
        Assert.True(g.Identify(Probe, 0.80, Info.PoseThresholds, 0.0).Known);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Candidates_are_ranked_by_distance_minus_their_own_threshold(bool compact)
    {
        // Bea's frontal face is nearer (0.83 against 0.80: 0.03 outside); Cy's profile (60°) is farther (0.86 against 0.90: 0.04 inside)
        using var g = Gallery(compact, ("Bea", 0.83, 2.0), ("Cy", 0.86, 60.0), ("Di", 0.95, 0.0));
        var id = g.Identify(Probe, Info, new IdentifyOptions { Yaw = 0, Top = 3 });
        Assert.Equal(["Cy", "Bea", "Di"], id.Candidates.Select(c => c.Name));
        Assert.Equal([0.90, 0.80, 0.80], id.Candidates.Select(c => Math.Round(c.Threshold, 9)));
        Assert.True(id.Known);
        Assert.Equal("Cy", id.Name);
        Assert.Equal(0.90, id.Threshold, 9);
        // a frontal search of the same gallery through a turned face's eyes: from 45° Bea's and Di's faces are the far band
        var turned = g.Identify(Probe, Info, new IdentifyOptions { Yaw = 50, Top = 3 });
        Assert.Equal(["Bea", "Di", "Cy"], turned.Candidates.Select(c => c.Name));
        Assert.Equal([0.90, 0.90, 0.80], turned.Candidates.Select(c => Math.Round(c.Threshold, 9)));
        Assert.Equal("Bea", turned.Name);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_subjects_nearest_face_is_the_one_most_inside_its_threshold(bool compact)
    {
        var g = FaceGallery.Open(Path.Combine(_dir, "two.db"), Model, indexOptions: compact ? new FaceIndexOptions { ApproximateFrom = 1 } : null);
        using (g)
        {
            // Eve has a frontal face at 0.82 (0.02 outside 0.80) and a profile at 0.87 (0.03 inside 0.90)
            g.Enroll("Eve", [new NewFace(At(0.82, 1)) { Yaw = 0 }, new NewFace(At(0.87, 2)) { Yaw = 70 }]);
            Assert.Equal(!compact, CompactSearchTests.FaceIndexOf(g).IsExact);
            var id = g.Identify(Probe, Info, new IdentifyOptions { Yaw = 3 });
            Assert.True(id.Known);
            Assert.Equal(0.87, id.Distance, 5);
            Assert.Equal(0.90, id.Threshold, 9);
            // under mean aggregation: mean distance 0.845 against the mean threshold 0.85
            var mean = g.Identify(Probe, Info, new IdentifyOptions { Yaw = 3, Aggregation = Aggregation.Mean });
            Assert.Equal(0.845, mean.Distance, 4);
            Assert.Equal(0.85, mean.Threshold, 9);
            Assert.True(mean.Known);
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Faces_of_the_previous_schema_count_as_frontal_and_new_faces_keep_their_yaw(string kind)
    {
        var location = kind == "sqlite" ? Path.Combine(_dir, "old.db") : postgres.NewDatabase();
        var r = new Random(5);
        using (var store = GalleryStores.Open(location, Model))
            store.Enroll("Ada", [new NewFace(RandomFaces.Unit(r, Dim)) { Yaw = 50 }]);
        // back to the previous release's schema: no yaw column
        if (kind == "sqlite") Sql(kind, location, "ALTER TABLE faces DROP COLUMN yaw; PRAGMA user_version = 4;");
        else Sql(kind, location, "ALTER TABLE facenet.faces DROP COLUMN yaw; UPDATE facenet.meta SET value = '3' WHERE key = 'schema_version';");
        using (var old = GalleryStores.Open(location, Model, readOnly: true))
        {
            var face = Assert.Single(old.Faces());
            Assert.Null(face.Yaw);
        }
        Assert.Equal(kind == "sqlite" ? "4" : "3", Version(kind, location));
        using (var store = GalleryStores.Open(location, Model)) // migrated as it opens for writing
        {
            store.Enroll("Bea", [new NewFace(RandomFaces.Unit(r, Dim)) { Yaw = -32.5 }, new NewFace(RandomFaces.Unit(r, Dim))]);
            var faces = store.Faces();
            Assert.Equal(3, faces.Count);
            Assert.Null(faces[0].Yaw);           // enrolled before the step: frontal to identification
            Assert.Equal(-32.5, faces[1].Yaw);   // a new face keeps its pose
            Assert.Null(faces[2].Yaw);           // a face without a pose (no landmarks)
        }
        Assert.Equal(kind == "sqlite" ? "5" : "4", Version(kind, location));
        // the gallery's search reads the poses back: Ada's old face is frontal, Bea's turned one is 32.5° away from a frontal search
        using var gallery = FaceGallery.Open(GalleryStores.Open(location, Model));
        var bea = gallery.Store.Faces()[1];
        var id = gallery.Identify(bea.Embedding, Info, new IdentifyOptions { Yaw = 0 });
        Assert.Equal("Bea", id.Name);
        Assert.Equal(0.85, id.Threshold, 9);
    }

    [Fact]
    public void An_enrolled_photo_keeps_the_pose_its_face_was_found_at()
    {
        using var faces = FaceRecognizer.Create();
        using var gallery = FaceGallery.Open(Path.Combine(_dir, "real.db"), GalleryModel.For(faces.Model));
        var photo = faces.Read(TestImages.DataPath("faces", "img16.jpg"));
        var yaw = faces.DetectMain(photo).Face!.Pose!.Value.Yaw;
        Assert.InRange(Math.Abs(yaw), 5, 20); // img16 is turned a little (13.5°)
        gallery.EnrollPhoto(faces, "Front", photo);
        Assert.Equal(yaw, Assert.Single(gallery.Store.Faces()).Yaw!.Value, 4);
        // searched by its own face: the same pose, the first band's threshold
        var self = faces.EmbedMain(photo).Face;
        var id = gallery.Identify(self.Vector, faces.Model.Info, new IdentifyOptions { Yaw = self.Face.Pose?.Yaw });
        Assert.Equal("Front", id.Name);
        Assert.Equal(id.Rule!.Threshold, id.Threshold, 9);
    }

    private static void Sql(string kind, string location, string sql)
    {
        if (kind == "sqlite")
        {
            using var c = new SqliteConnection($"Data Source={location};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
        else
        {
            using var c = new NpgsqlConnection(location);
            c.Open();
            using var cmd = new NpgsqlCommand(sql, c);
            cmd.ExecuteNonQuery();
        }
    }

    private static string Version(string kind, string location)
    {
        if (kind == "sqlite")
        {
            using var c = new SqliteConnection($"Data Source={location};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA user_version";
            return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
        }
        using var pg = new NpgsqlConnection(location);
        pg.Open();
        using var q = new NpgsqlCommand("SELECT value FROM facenet.meta WHERE key = 'schema_version'", pg);
        return (string)q.ExecuteScalar()!;
    }
}
