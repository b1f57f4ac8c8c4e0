namespace FaceNet.Gallery;

/// <summary>How a folder of photos is grouped into people.</summary>
public sealed record PhotoClusterOptions
{
    public ClusterMethod Method { get; init; } = ClusterMethod.Dbscan;

    /// <summary>The neighbour distance; null: the model's 1:1 threshold.</summary>
    public double? Eps { get; init; }

    /// <summary>DBSCAN: faces needed to make a group (the face itself counted).</summary>
    public int MinSamples { get; init; } = 2;

    /// <summary>Keep each face's aligned crop (to show or save the groups); else only boxes and vectors are held.</summary>
    public bool KeepCrops { get; init; }
}
