using FaceNet.Detection;

namespace FaceNet;

/// <summary>A face found in an image, with its embedding (unit length).</summary>
/// <summary>A photo's faces and its subject among them (<see cref="MainFace"/>): <see cref="Face"/> is null when it holds none.</summary>
public sealed record PhotoSubject(IReadOnlyList<DetectedFace> All, int Index)
{
    public DetectedFace? Face => Index >= 0 ? All[Index] : null;

    /// <summary>How many faces the photo held: more than <see cref="All"/> when <see cref="FaceRecognizerOptions.MaxFaces"/> dropped the smallest.</summary>
    public int Found { get; init; } = All.Count;

    /// <summary>Faces found but not kept (<see cref="FaceRecognizerOptions.MaxFaces"/>).</summary>
    public int Dropped => Found - All.Count;

    /// <summary>The subject alone, or every face (a group photo's <c>--all-faces</c>).</summary>
    public IReadOnlyList<DetectedFace> Chosen(bool allFaces) => allFaces ? All : Face is { } f ? [f] : [];

    public static PhotoSubject Of(IReadOnlyList<DetectedFace> faces, int width, int height)
        => new(faces, faces.Count == 0 ? -1 : MainFace.Index(faces, width, height));
}
