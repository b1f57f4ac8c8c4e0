namespace FaceNet.Detection;

/// <summary>A point in image pixels.</summary>
public readonly record struct FacePoint(float X, float Y);
