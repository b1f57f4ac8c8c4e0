using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Evaluation;

/// <summary>Options of <see cref="IdentificationProtocol"/>.</summary>
public sealed record IdentificationOptions
{
    /// <summary>Gallery sizes to measure at (those larger than the people at hand allow are skipped); empty: 100, 1,000, 3,000 and all.</summary>
    public IReadOnlyList<int> GallerySizes { get; init; } = [];

    /// <summary>Searches by people not enrolled to make per gallery size (from several draws of the gallery when few people are left out).</summary>
    public int Strangers { get; init; } = 1000;

    /// <summary>Most draws of the gallery per size.</summary>
    public int MaxDraws { get; init; } = 20;

    public int Seed { get; init; } = 20261201;

    /// <summary>The FPIR the product's rule is run at (the threshold chosen from the model's impostor tail and the gallery's size).</summary>
    public double Fpir { get; init; } = OpenSetThreshold.DefaultFpir;

    /// <summary>
    /// Enrolment takes a person's first photo at or above this quality, as <c>enroll</c>'s gate does; a person with none is
    /// not enrolled (refused), and their mated searches count as misses. 0: their first photo, no gate.
    /// </summary>
    public double QualityFloor { get; init; }

    /// <summary>The rule also holds the threshold to the gallery's own people, as <c>FaceGallery</c> does by default; false: the model's tail alone.</summary>
    public bool UseGalleryPeople { get; init; } = true;

    /// <summary>
    /// Each comparison held to the threshold plus the model's pose-band offset for the pair's yaw difference, as <c>FaceGallery</c>
    /// does (candidates ranked by distance minus their own threshold); false: one threshold for every comparison.
    /// </summary>
    public bool PoseBands { get; init; } = true;
}
