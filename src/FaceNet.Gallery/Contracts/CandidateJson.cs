using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

/// <summary>A candidate subject: its distance and the threshold it is held to (the search's plus its pose band's offset).</summary>
public sealed record CandidateJson(string Name, double Distance, double? Threshold = null);
