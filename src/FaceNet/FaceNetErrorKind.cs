namespace FaceNet;

/// <summary>
/// What kind of fault a <see cref="FaceNetException"/> is: the one thing front ends map to an exit code or
/// an HTTP status, so that rewording a message never changes an API.
/// </summary>
public enum FaceNetErrorKind
{
    /// <summary>Input that cannot be used as given (a pairs file, a video, keys, an embedding of the wrong size).</summary>
    Invalid,
    /// <summary>The file is not a usable image.</summary>
    NotAnImage,
    /// <summary>The image holds no face.</summary>
    NoFace,
    /// <summary>The face is below the enrolment quality floor.</summary>
    QualityTooLow,
    /// <summary>The face is already enrolled as another subject.</summary>
    Duplicate,
    /// <summary>A model or weights file that cannot be used.</summary>
    BadModel,
    /// <summary>A gallery bound to another model than the one given.</summary>
    ModelMismatch,
    /// <summary>What was asked for does not exist (a gallery, a subject).</summary>
    NotFound,
    /// <summary>The change would clash with what is stored (a name already taken).</summary>
    Conflict,
    /// <summary>A store that is damaged, foreign or of a newer version; nothing was changed.</summary>
    CorruptStore,
    /// <summary>A store that cannot be reached or written now (permissions, a database that is down).</summary>
    Unavailable,
    /// <summary>An output file that cannot be written.</summary>
    Output,
    /// <summary>An encrypted store opened without its master key, or with another one; nothing was changed.</summary>
    Locked,
    /// <summary>A setting that cannot be used as given (an unknown detector, an alignment a model cannot take).</summary>
    Setting,
    /// <summary>
    /// A face refused by the liveness check: judged a presentation attack (a photo or a screen held up to the
    /// camera), or not judgeable (too small, too blurred, cut by the photo's edge) where live faces are required.
    /// </summary>
    PresentationAttack,
}
