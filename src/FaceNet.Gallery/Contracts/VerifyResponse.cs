using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record VerifyResponse(double Distance, double Threshold, bool Same, string Metric, string ThresholdSource, string Model,
    string ModelId, IReadOnlyList<VerifyFace> Faces)
{
    /// <summary>A comparison of two photos' faces (<see cref="Verification.A"/> and <see cref="Verification.B"/> set) as both front ends report it.</summary>
    public static VerifyResponse Of(Verification v, string thresholdSource, Embedding.FaceModel model)
        => new(Math.Round(v.Distance, 6), v.Threshold, v.Same, Matching.Metrics.Name(v.Metric), thresholdSource, model.Info.Name, model.Identity,
            [new VerifyFace(v.A!.Box.ToArray(), v.A.Score, v.FacesInA), new VerifyFace(v.B!.Box.ToArray(), v.B.Score, v.FacesInB)]);
}
