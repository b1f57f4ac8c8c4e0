namespace FaceNet.Cluster.Shards;

/// <summary>
/// One shard of a gallery, a grain that Orleans places on some silo: the subjects whose id falls in it
/// (id modulo the shard count), loaded from PostgreSQL when it activates, searched in memory.
/// </summary>
[Alias("FaceNet.IGalleryShard")]
public interface IGalleryShard : IGrainWithIntegerCompoundKey
{
    /// <summary>This shard's best subjects for a query (each at its nearest face, or its mean).</summary>
    [Alias("Search")]
    Task<ShardAnswer> Search(ShardQuery query);

    /// <summary>Subjects and faces this shard holds.</summary>
    [Alias("Size")]
    Task<(int Subjects, int Faces)> Size();

    /// <summary>The ids of this shard's subjects that have faces (the sample of the gallery's own people is drawn from all of them).</summary>
    [Alias("SubjectIds")]
    Task<long[]> SubjectIds();

    /// <summary>The first face of each of these subjects of the shard.</summary>
    [Alias("FirstFaces")]
    Task<float[][]> FirstFaces(long[] subjects);

    /// <summary>For each query, the distance of the nearest face in this shard of a subject other than the query's own.</summary>
    [Alias("NearestOthers")]
    Task<double[]> NearestOthers(float[][] queries, long[] ownSubjects);

    /// <summary>
    /// Applies the store's committed changes since the shard's last (enrolments of its subjects, renames,
    /// erasures): called after a write is committed, before it is acknowledged, so an erased face has left
    /// the shard's memory by then; and by each silo when the store announces a change.
    /// </summary>
    [Alias("CatchUp")]
    Task CatchUp();

    /// <summary>Where the shard is now and what it holds.</summary>
    [Alias("Status")]
    Task<ShardStatus> Status();

    /// <summary>Moves to its owner in the current membership (this silo's memory freed; the owner loads the shard from PostgreSQL).</summary>
    [Alias("Handoff")]
    Task Handoff();

    /// <summary>Its tenant was removed: the shard leaves memory, and this silo's graph file of it is deleted (the database's went with the schema).</summary>
    [Alias("Drop")]
    Task Drop();
}
