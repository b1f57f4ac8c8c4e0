using FaceNet.Imaging;

namespace FaceNet.Embedding;

/// <summary>The crops one face gives a model: one per member network, in member order.</summary>
public sealed class FaceCrops(RgbImage[] crops)
{
    internal RgbImage[] Crops { get; } = crops;

    /// <summary>The first network's crop (what <c>facenet align</c> shows).</summary>
    public RgbImage Primary => Crops[0];
}
