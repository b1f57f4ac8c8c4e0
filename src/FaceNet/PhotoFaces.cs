namespace FaceNet;

/// <summary>Which faces of a photo <see cref="FaceRecognizer.EmbedFaces(string, PhotoFaces)"/> embeds.</summary>
public enum PhotoFaces
{
    /// <summary>The photo's subject (<see cref="Detection.MainFace"/>): the largest face, preferring the centre.</summary>
    Subject,

    /// <summary>Every face found.</summary>
    All,

    /// <summary>The whole image: it already is a face crop (no detection, no alignment).</summary>
    WholeImage,
}
