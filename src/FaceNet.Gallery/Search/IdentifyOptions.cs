using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Gallery;

/// <summary>What a search is held against: how to choose the open-set threshold, how many candidates to return.</summary>
public sealed record IdentifyOptions
{
    /// <summary>The default target: 1 % of searches by people who are not enrolled may return a name.</summary>
    public const double DefaultFpir = OpenSetThreshold.DefaultFpir;

    /// <summary>Target false-positive identification rate: the share of strangers' searches that may get a name.</summary>
    public double Fpir { get; init; } = DefaultFpir;

    /// <summary>A fixed threshold instead of the FPIR rule.</summary>
    public double? Threshold { get; init; }

    /// <summary>Candidates returned (the best first).</summary>
    public int Top { get; init; } = 1;

    public Aggregation Aggregation { get; init; } = Aggregation.Min;

    /// <summary>
    /// The searching face's yaw in degrees (<see cref="Detection.HeadPose.Yaw"/>). Under the FPIR rule, with a model that has pose
    /// bands (<see cref="ModelInfo.PoseThresholds"/>), each candidate face is held to the FPIR threshold plus its band's offset for
    /// the pose difference ||yaw| − |the stored face's yaw|| — the rule verification applies —, and candidates are ranked by
    /// distance minus their own threshold. A face stored without a yaw (enrolled before galleries kept poses) counts as frontal;
    /// null here (a face without landmarks) puts every candidate in the first band. A given <see cref="Threshold"/> has no bands.
    /// </summary>
    public double? Yaw { get; init; }

    /// <summary>A subject left out of the search (a duplicate check of a subject against the others).</summary>
    public string? Excluding { get; init; }

    /// <summary>
    /// Also hold the threshold to the gallery's own people once it has enough of them (5 / FPIR subjects):
    /// how near each of up to <see cref="OpenSetThreshold.GallerySampleSize"/> subjects comes to another subject.
    /// On photos unlike the model tail's (LFW faces cut inside the box, 700 subjects) the model's tail alone let
    /// 4.7 % of strangers through at a 1 % target, with this 0.7 %.
    /// </summary>
    public bool UseGalleryPeople { get; init; } = true;
}
