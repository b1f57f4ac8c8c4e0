namespace FaceNet.Training;

/// <summary>Which head is trained on top of the frozen base embedding.</summary>
public enum HeadKind
{
    /// <summary>u = normalize(W·x + b): a learned projection (any output size).</summary>
    Linear,
    /// <summary>u = normalize(x + W₂·relu(W₁·x + b₁) + b₂): a residual correction of the base (output size = base size).</summary>
    Residual,
}
