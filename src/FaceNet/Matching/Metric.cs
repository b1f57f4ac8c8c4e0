namespace FaceNet.Matching;

/// <summary>How two embeddings' distance is measured: Euclidean on unit vectors (the seed's, 0–2) or cosine (1 − cos θ, 0–2).</summary>
public enum Metric { Euclidean, Cosine }
