using FaceNet.Imaging;

namespace FaceNet.Gallery;

/// <summary>
/// Groups the faces of a folder of photos into people without labels (a photo library's "people" view): every
/// face of every photo embedded, then grouped by <see cref="Clustering"/> at the model's threshold unless told
/// otherwise. A photo that cannot be read is reported, not fatal.
/// </summary>
public static class PhotoClustering
{
    public static PhotoClusters Group(FaceRecognizer faces, string folder, PhotoClusterOptions? options = null)
    {
        options ??= new PhotoClusterOptions();
        if (!Directory.Exists(folder)) throw new ImageException(folder, "folder not found");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImageFile)
            .Order(StringComparer.Ordinal).ToArray();
        var found = new List<ClusteredFace>();
        var unreadable = new List<FaceNetException>();
        var withoutFace = new List<string>();
        foreach (var file in files)
        {
            Photo photo;
            try { photo = faces.Read(file); }
            catch (ImageException e) { unreadable.Add(e); continue; }
            var embedded = faces.Embed(photo);
            if (embedded.Count == 0) withoutFace.Add(file);
            foreach (var f in embedded)
                found.Add(new ClusteredFace(file, f.Face, f.Vector, options.KeepCrops ? faces.Align(photo, f.Face).Primary : null));
        }
        var info = faces.Model.Info;
        double eps = options.Eps ?? info.Threshold;
        var vectors = found.Select(f => f.Vector).ToList();
        var labels = options.Method == ClusterMethod.ChineseWhispers
            ? Clustering.ChineseWhispers(vectors, eps, info.Metric)
            : Clustering.Dbscan(vectors, eps, Math.Max(1, options.MinSamples), info.Metric);
        var (clusters, noise) = Clustering.Groups(labels);
        return new PhotoClusters(found, clusters, noise, files.Length, eps, unreadable, withoutFace);
    }
}
