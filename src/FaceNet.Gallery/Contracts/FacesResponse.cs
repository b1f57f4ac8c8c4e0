using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record FacesResponse(IReadOnlyList<FaceJson> Faces, int Width, int Height, string Model, string ModelId)
{
    /// <summary>Faces found beyond the service's cap per photo (the smallest), not in <see cref="Faces"/>.</summary>
    public int FacesDropped { get; init; }
}
