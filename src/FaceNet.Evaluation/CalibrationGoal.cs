namespace FaceNet.Evaluation;

/// <summary>What a threshold calibration aims at.</summary>
public enum CalibrationGoal
{
    /// <summary>A target false-accept rate.</summary>
    Far,

    /// <summary>A target false-reject rate.</summary>
    Frr,

    /// <summary>The accuracy-maximising threshold (the rule of the bundled models' thresholds).</summary>
    BestAccuracy,

    /// <summary>The model's own threshold, measured; only the impostor tail and pose bands are new.</summary>
    KeepThreshold,
}
