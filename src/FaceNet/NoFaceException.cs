using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Liveness;
using FaceNet.Matching;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet;

/// <summary>There is no face where one is needed: the message names the image.</summary>
public sealed class NoFaceException(string file) : ImageException(file, "no face found", FaceNetErrorKind.NoFace);
