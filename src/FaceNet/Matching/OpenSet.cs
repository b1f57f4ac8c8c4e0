using FaceNet.Models;

namespace FaceNet.Matching;

/// <summary>How an identification's threshold was chosen.</summary>
public enum ThresholdRule
{
    /// <summary>From the target FPIR, the gallery's size and the model's impostor tail.</summary>
    Fpir,
    /// <summary>Given by the caller.</summary>
    Given,
    /// <summary>The model's 1:1 threshold, because the model has no impostor tail (strangers pass more often as the gallery grows).</summary>
    Verification,
}
