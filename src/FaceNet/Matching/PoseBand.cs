namespace FaceNet.Matching;

/// <summary>One band of pose difference: pairs whose yaw differs by at least <see cref="From"/> degrees (up to the next band's start).</summary>
/// <param name="From">Start of the band in degrees of |yaw a − yaw b| (the first band starts at 0).</param>
/// <param name="Threshold">The same-person threshold of pairs in the band.</param>
/// <param name="Far">The false-accept rate the threshold was set for, when known.</param>
/// <param name="Pairs">Different-person pairs the threshold was measured on.</param>
public readonly record struct PoseBand(double From, double Threshold, double? Far, long Pairs);
