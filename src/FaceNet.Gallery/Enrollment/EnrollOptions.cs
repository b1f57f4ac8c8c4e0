using FaceNet.Quality;

namespace FaceNet.Gallery;

/// <summary>How faces are enrolled: which faces of a photo, how good they must be, what to do with a face the gallery already knows as someone else.</summary>
public sealed record EnrollOptions
{
    /// <summary>Faces below this quality (<see cref="FaceQuality.Score"/>) are refused with the reason; 0 takes every face.</summary>
    public double QualityFloor { get; init; } = FaceQuality.DefaultFloor;

    /// <summary>Enrol faces below the floor anyway.</summary>
    public bool Force { get; init; }

    /// <summary>Every face of the photo instead of its subject.</summary>
    public bool AllFaces { get; init; }

    /// <summary>The photo is already a face crop: the whole image is the face.</summary>
    public bool Aligned { get; init; }

    /// <summary>Refuse (<see cref="DuplicateFaceException"/>) a face that the gallery identifies as another subject; else enrol it and report the other subject.</summary>
    public bool RefuseDuplicates { get; init; }

    /// <summary>The search that decides whether a face is another subject's (a target FPIR by default).</summary>
    public IdentifyOptions Duplicates { get; init; } = new();
}
