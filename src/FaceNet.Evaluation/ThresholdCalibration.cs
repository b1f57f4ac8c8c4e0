using FaceNet.Matching;

namespace FaceNet.Evaluation;

/// <summary>
/// A calibration done (<see cref="Calibrator.Run"/>): the threshold and its rates, what it was set for, the impostor tail
/// and pose bands when asked, and the images that could not be used.
/// </summary>
public sealed record ThresholdCalibration(CalibrationRequest Request, CalibrationResult Result, string Goal, string Note, ImpostorTail? Tail, string? TailRoot,
    PoseThresholds? PoseThresholds, EvaluationReport Report);
