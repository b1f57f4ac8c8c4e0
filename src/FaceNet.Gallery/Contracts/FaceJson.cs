using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record FaceJson(int[] Box, float Score, double[][]? Landmarks, string? LandmarksSource, double? Quality, string? QualityIssue,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] float[]? Embedding)
{
    /// <summary>Which way the head is turned, <c>{"yaw", "pitch", "roll"}</c> in degrees (issue 27); null without landmarks.</summary>
    public HeadPose? Pose { get; init; }

    public static FaceJson Of(DetectedFace f, float[]? embedding = null)
        => new(f.Box.ToArray(), f.Score, f.Landmarks?.Select(p => new[] { Math.Round(p.X, 1), Math.Round(p.Y, 1) }).ToArray(),
            f.LandmarksSource, f.Quality?.Score, f.Quality?.Issue, embedding) { Pose = f.Pose };
}
