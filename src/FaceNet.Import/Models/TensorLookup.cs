using FaceNet.Weights;

namespace FaceNet.Models;

/// <summary>Looks up a named tensor for a network definition, collecting every problem instead of stopping at the first.</summary>
internal static class TensorLookup
{
    /// <summary>The tensor's values, or null after recording why it is missing or misshapen (unless optional and absent).</summary>
    public static float[]? Get(WeightSet weights, string name, int[] shape, List<string> problems, bool optional = false)
    {
        if (!weights.TryGet(name, out var t))
        {
            if (!optional) problems.Add($"missing tensor '{name}' (expected shape [{string.Join(",", shape)}])");
            return null;
        }
        if (!t.Shape.SequenceEqual(shape))
        {
            problems.Add($"tensor '{name}' has shape {t.ShapeText}, the network needs [{string.Join(",", shape)}]");
            return null;
        }
        return t.Data;
    }
}
