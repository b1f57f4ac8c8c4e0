using FaceNet.Alignment;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;
using FaceNet.Liveness;
using FaceNet.Matching;
using Microsoft.ML.OnnxRuntime;

namespace FaceNet;

public sealed record FaceEmbedding(int Index, DetectedFace Face, float[] Vector)
{
    public FaceBox Box => Face.Box;
    public float Score => Face.Score;
}
