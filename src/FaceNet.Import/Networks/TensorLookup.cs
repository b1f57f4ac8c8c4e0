using FaceNet.Models;
using FaceNet.Import.Weights;

namespace FaceNet.Import.Networks;

/// <summary>Looks up a named tensor for a network definition, collecting every problem instead of stopping at the first.</summary>
internal static class TensorLookup
{
    /// <summary>
    /// One line for a file that does not fit a network: how many tensors are wrong and the first few of
    /// them (a file of another network can miss hundreds; nobody reads a 44,000-character line).
    /// </summary>
    public static WeightsException Mismatch(WeightSet weights, string network, List<string> problems)
    {
        int shown = problems.Count <= 6 ? problems.Count : 2; // a few are all listed; hundreds are counted
        var hint = weights.Count > 0 && problems.Count > weights.Count / 2 ? $" (the file holds {weights.Count} tensors, e.g. '{weights.Names.First()}': weights of another network?)" : "";
        var text = $"{problems.Count} tensor(s) do not fit {network}{hint}: " + string.Join("; ", problems.Take(shown))
            + (problems.Count > shown ? $"; and {problems.Count - shown} more" : "");
        return new WeightsException(weights.Source, text);
    }

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
