namespace FaceNet.Gallery;

/// <summary>The model a gallery is bound to: embeddings of different models are not comparable.</summary>
public sealed record GalleryModel(string Id, int EmbeddingSize, string Preprocess, Matching.Metric Metric)
{
    /// <summary>The model's name in an identity such as <c>fused:6ef6d0030c172363</c> (the part before the last colon).</summary>
    public static string NameOf(string id) => id.Contains(':') ? id[..id.LastIndexOf(':')] : id;

    /// <summary>Earlier identities of the same model (see <see cref="Embedding.FaceModel.IdentityAliases"/>); not part of equality.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The binding of a loaded model: its identity (networks, alignment, flip; not its threshold), embedding size, preprocessing, metric.</summary>
    public static GalleryModel For(Embedding.FaceModel model)
        => new(model.Identity, model.Info.EmbeddingSize, model.Info.Preprocess, model.Info.Metric) { Aliases = model.IdentityAliases };

    /// <summary>Whether a gallery bound to <paramref name="bound"/> holds embeddings comparable with this model's.</summary>
    public bool Matches(GalleryModel bound)
        => (bound.Id == Id || Aliases.Contains(bound.Id)) && bound.EmbeddingSize == EmbeddingSize && bound.Metric == Metric;

    public bool Equals(GalleryModel? other) => other is not null && Id == other.Id && EmbeddingSize == other.EmbeddingSize && Preprocess == other.Preprocess && Metric == other.Metric;

    public override int GetHashCode() => HashCode.Combine(Id, EmbeddingSize, Preprocess, Metric);

    public override string ToString() => $"{Id} ({EmbeddingSize}-d, {Preprocess}, {Matching.Metrics.Name(Metric)})";
}
