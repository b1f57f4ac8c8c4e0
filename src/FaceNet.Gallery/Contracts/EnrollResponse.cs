using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Liveness;
using FaceNet.Matching;

namespace FaceNet.Contracts;

public sealed record EnrollResponse(string Subject, long FaceId, int[] Box, int FacesInImage, double? Quality, string? DuplicateOf);
