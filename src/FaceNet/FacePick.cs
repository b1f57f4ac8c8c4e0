using FaceNet.Detection;

namespace FaceNet;

/// <summary>Which faces of two photos <see cref="FaceRecognizer.Compare(string, string, FacePick)"/> compares.</summary>
public enum FacePick
{
    /// <summary>The subject of each photo (<see cref="MainFace"/>): the largest face, preferring the centre.</summary>
    Main,

    /// <summary>The closest pair among all faces of the two photos (is this person anywhere in that group photo?).</summary>
    BestMatch,
}
