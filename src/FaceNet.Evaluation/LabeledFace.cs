namespace FaceNet.Evaluation;

/// <summary>One face of a folder of people: whose, its embedding and quality.</summary>
public sealed record LabeledFace(int Person, string File, float[] Vector, double Quality)
{
    /// <summary>The face's yaw in degrees, for the pose-aware rule (null: unknown, the first band).</summary>
    public double? Yaw { get; init; }
}
