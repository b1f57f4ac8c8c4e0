namespace FaceNet.Gallery;

/// <summary>How <see cref="PhotoClustering"/> groups faces (see <see cref="Clustering"/>).</summary>
public enum ClusterMethod
{
    /// <summary>DBSCAN: dense groups, lone faces left unclustered.</summary>
    Dbscan,

    /// <summary>Chinese Whispers: every face in some group, singletons included.</summary>
    ChineseWhispers,
}
