namespace FaceNet.Detection;

/// <summary>Finds faces in an image.</summary>
public interface IFaceDetector : IDisposable
{
    /// <summary>Short name: yunet, mtcnn or haar.</summary>
    string Name { get; }

    /// <summary>Faces found, largest first.</summary>
    IReadOnlyList<DetectedFace> Detect(FaceNet.Imaging.RgbImage image);

    /// <summary>The <paramref name="maxFaces"/> largest faces, and how many were <paramref name="found"/>; a detector that refines each face does so for these only.</summary>
    IReadOnlyList<DetectedFace> Detect(FaceNet.Imaging.RgbImage image, int maxFaces, out int found)
    {
        var all = Detect(image);
        found = all.Count;
        return all.Count <= maxFaces ? all : [.. all.Take(maxFaces)];
    }

    /// <summary>
    /// The longer side the detector shrinks photos to, when it does (YuNet: 640); null when it looks at
    /// every pixel. A photo need not be decoded larger than this to be searched for faces.
    /// </summary>
    int? WorkingSize => null;
}
