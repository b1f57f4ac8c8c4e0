using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record SubjectJson(string Name, int Faces, DateTime Created);
