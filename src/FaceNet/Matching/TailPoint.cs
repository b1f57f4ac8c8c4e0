namespace FaceNet.Matching;

/// <summary>One point of an impostor tail: a fraction <see cref="Far"/> of different-person pairs lies at or below <see cref="Threshold"/>.</summary>
/// <param name="Far">False-accept rate (per comparison).</param>
/// <param name="Threshold">The distance that lets that rate through.</param>
/// <param name="Pairs">Different-person pairs at or below the threshold in the data the point was measured on.</param>
public readonly record struct TailPoint(double Far, double Threshold, long Pairs);
