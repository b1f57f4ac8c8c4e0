using FaceNet.Imaging;

namespace FaceNet;

/// <summary>There is no face where one is needed: the message names the image.</summary>
public sealed class NoFaceException(string file) : ImageException(file, "no face found", FaceNetErrorKind.NoFace);
