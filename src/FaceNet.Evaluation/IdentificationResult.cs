using FaceNet.Matching;

namespace FaceNet.Evaluation;

/// <summary>The figures of one gallery size, as NIST FRVT 1:N states them.</summary>
public sealed record IdentificationResult(
    int GallerySize, int Draws, int MatedSearches, int NonMatedSearches,
    double Rank1, double Rank5,
    IdentificationPoint AtFpir1, IdentificationPoint AtFpir01,
    IdentificationPoint AtRule, OpenSetThreshold Rule,
    IReadOnlyList<IdentificationPoint> Det);
