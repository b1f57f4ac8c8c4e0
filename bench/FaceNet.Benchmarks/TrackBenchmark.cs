using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Video;

namespace FaceNet.Benchmarks;

public sealed record TrackResult(int Tracks, int Enrolled, IReadOnlyDictionary<string, double> Identity, int ClusterTracks, int People,
    int Clusters, double TogetherSame, double ApartDifferent);

/// <summary>
/// How a track's faces should be taken together, measured on photos instead of video: a folder of people
/// (one sub-folder each, 4 photos or more). Half of the people are enrolled from their first photo, the
/// others are strangers; each person's next photos form a "track", two of them shrunk to a quarter (a face
/// far from the camera). Identity rules of <see cref="VideoFaces"/> are scored on how many tracks get the
/// right answer (the name, or unknown for a stranger); clustering on pairs of tracks of the same person
/// put together and of different people kept apart.
/// </summary>
public static class TrackBenchmark
{
    public static TrackResult Run(FaceRecognizer faces, string root, int maxPeople)
    {
        var people = Directory.GetDirectories(root).Where(d => Directory.GetFiles(d).Count(ImageDecoder.IsImageFile) >= 4).Order(StringComparer.Ordinal).Take(maxPeople).ToList();
        var db = Path.Combine(Path.GetTempPath(), $"facenet-tracks-{Guid.NewGuid():N}.db");
        try
        {
            using var gallery = FaceGallery.Open(db, GalleryModel.For(faces.Model));
            var tracks = new List<(string Person, bool Enrolled, List<(float[] Vector, double Weight)> Faces)>();
            int k = 0;
            foreach (var dir in people)
            {
                string person = Path.GetFileName(dir);
                var files = Directory.GetFiles(dir).Where(ImageDecoder.IsImageFile).Order(StringComparer.Ordinal).Take(5).ToList();
                bool enrolled = k++ % 2 == 0;
                try
                {
                    if (enrolled) gallery.Enroll(person, [new NewFace(faces.EmbedMain(faces.Read(files[0])).Face.Vector)]);
                    var track = new List<(float[], double)>();
                    for (int i = 1; i < files.Count; i++)
                    {
                        var image = ImageDecoder.Load(files[i]);
                        if (i >= 3) image = image.Resize(Math.Max(1, image.Width / 4), Math.Max(1, image.Height / 4), ResizeMode.Area);
                        if (faces.DetectMain(Photo.Of(image)).Face is not { } f) continue;
                        track.Add((faces.Embed(image, [f])[0].Vector, VideoFaces.Quality(f)));
                    }
                    if (track.Count > 0) tracks.Add((person, enrolled, track));
                }
                catch (FaceNetException) { } // a photo without a face for the gallery: the person is left out
            }

            var identity = new Dictionary<string, double>();
            foreach (var rule in Enum.GetValues<TrackIdentity>())
                identity[rule.ToString().ToLowerInvariant()] = tracks.Count(t => Right(VideoFaces.IdentifyTrack(gallery, t.Faces, faces.Threshold, rule).Name, t)) / (double)tracks.Count;
            identity["best-frame"] = tracks.Count(t => Right(VideoFaces.IdentifyTrack(gallery, [t.Faces.MaxBy(f => f.Weight)], faces.Threshold, TrackIdentity.Vote).Name, t)) / (double)tracks.Count;

            // clustering: each person's track split in two, in a shuffled order, clustered as VideoFaces does it
            var parts = new List<(string Person, List<float[]> Faces)>();
            foreach (var t in tracks.Where(t => t.Faces.Count >= 3))
            {
                parts.Add((t.Person, t.Faces.Take(2).Select(f => f.Vector).ToList()));
                parts.Add((t.Person, t.Faces.Skip(2).Select(f => f.Vector).ToList()));
            }
            var rng = new Random(3);
            parts = parts.OrderBy(_ => rng.Next()).ToList();
            var clusters = new List<List<float[]>>();
            var of = new int[parts.Count];
            for (int i = 0; i < parts.Count; i++)
            {
                var (best, distance) = clusters.Select((c, n) => (n, VideoFaces.AverageDistance(parts[i].Faces, c, faces.Model.Info.Metric))).DefaultIfEmpty((-1, double.MaxValue)).MinBy(x => x.Item2);
                if (best >= 0 && distance <= faces.Threshold) { clusters[best].AddRange(parts[i].Faces); of[i] = best; }
                else { clusters.Add([.. parts[i].Faces]); of[i] = clusters.Count - 1; }
            }
            long same = 0, together = 0, different = 0, apart = 0;
            for (int i = 0; i < parts.Count; i++)
                for (int j = i + 1; j < parts.Count; j++)
                    if (parts[i].Person == parts[j].Person) { same++; if (of[i] == of[j]) together++; }
                    else { different++; if (of[i] != of[j]) apart++; }
            return new TrackResult(tracks.Count, tracks.Count(t => t.Enrolled), identity, parts.Count, parts.Count / 2, clusters.Count,
                same > 0 ? together / (double)same : 0, different > 0 ? apart / (double)different : 0);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(db);
        }

        static bool Right(string? name, (string Person, bool Enrolled, List<(float[], double)>) t) => t.Enrolled ? name == t.Person : name is null;
    }
}
