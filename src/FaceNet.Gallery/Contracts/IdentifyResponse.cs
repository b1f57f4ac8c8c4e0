using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record IdentifyResponse(IReadOnlyList<IdentifiedFace> Faces, int Width, int Height, int Subjects, string Model, string ModelId)
{
    /// <summary>Faces found beyond the service's cap per photo (the smallest), not identified.</summary>
    public int FacesDropped { get; init; }
}
