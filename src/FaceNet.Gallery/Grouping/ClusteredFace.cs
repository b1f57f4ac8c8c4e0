using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Gallery;

/// <summary>A face of a clustered folder: its photo, where it was found, its embedding, and its aligned crop when kept.</summary>
public sealed record ClusteredFace(string File, DetectedFace Face, float[] Vector, RgbImage? Crop);
