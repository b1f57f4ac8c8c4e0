namespace FaceNet.Matching;

/// <summary>A 1:1 verification result: the distance, the threshold it was held against, and the verdict.</summary>
public sealed record Verification(double Distance, double Threshold, Metric Metric)
{
    /// <summary>Same person when the distance does not exceed the threshold.</summary>
    public bool Same => Distance <= Threshold;

    /// <summary>The faces compared, when photos were compared (<see cref="FaceRecognizer.Compare(string, string, FacePick)"/>).</summary>
    public FaceEmbedding? A { get; init; }
    public FaceEmbedding? B { get; init; }

    /// <summary>
    /// How far apart the two faces' yaws are, in degrees, when both poses are known: the pose-aware rule chose
    /// <see cref="Threshold"/> for it (<see cref="Models.ModelInfo.ThresholdFor"/>).
    /// </summary>
    public double? PoseDifference { get; init; }

    /// <summary>How many faces each photo holds: more than one means a choice was made (see <see cref="FacePick"/>).</summary>
    public int FacesInA { get; init; }
    public int FacesInB { get; init; }
}
