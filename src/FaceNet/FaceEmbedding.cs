using FaceNet.Detection;

namespace FaceNet;

public sealed record FaceEmbedding(int Index, DetectedFace Face, float[] Vector)
{
    public FaceBox Box => Face.Box;
    public float Score => Face.Score;
}
