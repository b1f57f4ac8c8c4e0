using FaceNet.Gallery;

namespace FaceNet.Cluster.Shards;

/// <summary>One search of one shard.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardQuery([property: Id(0)] float[] Embedding, [property: Id(1)] int Top, [property: Id(2)] Aggregation Aggregation,
    [property: Id(3)] string? Excluding)
{
    /// <summary>The searching face's yaw (degrees), for the pose-aware rule; null: every candidate in the first band.</summary>
    [Id(4)] public double? Yaw { get; init; }

    /// <summary>The model's pose bands: where each starts (degrees of yaw difference) and its threshold; null: no bands.</summary>
    [Id(5)] public double[]? BandFrom { get; init; }
    [Id(6)] public double[]? BandThreshold { get; init; }

    /// <summary>A query carrying <paramref name="bands"/> and the searching face's <paramref name="yaw"/>.</summary>
    public ShardQuery WithPose(Matching.PoseThresholds? bands, double? yaw) => bands is null ? this : this with
    {
        Yaw = yaw, BandFrom = bands.Bands.Select(b => b.From).ToArray(), BandThreshold = bands.Bands.Select(b => b.Threshold).ToArray(),
    };

    internal Matching.PoseThresholds? Bands => BandFrom is { Length: > 0 } from && BandThreshold is { } t && t.Length == from.Length
        ? new Matching.PoseThresholds(from.Select((f, i) => new Matching.PoseBand(f, t[i], null, 0)).ToList(), "") : null;
}
