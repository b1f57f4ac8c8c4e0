using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Liveness;

/// <summary>
/// What a face gives the liveness networks before they run (made by <see cref="LivenessModel.Prepare"/>, cheap,
/// on any thread): the face, the box the crops were cut around (the detector's box mapped onto the reference
/// detector's), one crop per network, and why the face cannot be judged, when it cannot.
/// </summary>
public sealed record LivenessInput(DetectedFace Face, FaceBox ReferenceBox, IReadOnlyList<LivenessPatch> Patches, IReadOnlyList<RgbImage> Crops,
    string? Unjudged);
