using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Imaging;
using FaceNet.Models;

namespace FaceNet.Embedding;

/// <summary>The crops one face gives a model: one per member network, in member order.</summary>
public sealed class FaceCrops(RgbImage[] crops)
{
    internal RgbImage[] Crops { get; } = crops;

    /// <summary>The first network's crop (what <c>facenet align</c> shows).</summary>
    public RgbImage Primary => Crops[0];
}
