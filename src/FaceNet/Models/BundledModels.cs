using FaceNet.Embedding;

namespace FaceNet.Models;

/// <summary>
/// The models shipped in the repository's <c>models/</c> folder (copied next to every binary that
/// references the library), found by name: <c>models/NAME/NAME.onnx</c>.
/// </summary>
public static class BundledModels
{
    /// <summary>The embedder used when none is named (chosen by measurement: see README).</summary>
    public const string DefaultEmbedder = "fused";

    /// <summary>The detector used when none is named.</summary>
    public const string YuNet = "yunet";

    /// <summary>
    /// Where the bundled models are: <c>models/</c> beside the running program, where the FaceNet.Models
    /// package puts them (also in this repository's builds); <c>FACENET_MODELS</c> names another folder.
    /// </summary>
    public static IEnumerable<string> Folders()
    {
        if (Environment.GetEnvironmentVariable("FACENET_MODELS") is { Length: > 0 } custom) yield return custom;
        yield return Path.Combine(AppContext.BaseDirectory, "models");
    }

    /// <summary>
    /// The path of a bundled model: <c>models/NAME/NAME.onnx</c>, or a fused model <c>models/NAME/NAME.json</c>;
    /// null if absent.
    /// </summary>
    public static string? Find(string name)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\', '.']) >= 0) return null;
        foreach (var folder in Folders())
        {
            var candidate = Path.Combine(folder, name, name + ".onnx");
            if (File.Exists(candidate)) return candidate;
            var fused = Path.Combine(folder, name, name + ".json");
            if (FusedFile.Is(fused)) return fused;
        }
        return null;
    }

    /// <summary>The names of the bundled embedders found.</summary>
    public static IReadOnlyList<string> EmbedderNames()
        => Folders().Where(Directory.Exists).SelectMany(Directory.GetDirectories).Select(Path.GetFileName)
            .Where(n => n is not null && n != YuNet && Find(n) is not null).Select(n => n!).Distinct().OrderBy(n => n).ToList();

    /// <summary>
    /// A model argument as users give it: a file path (.onnx, or weights to import), or a bundled
    /// model's name; null means the default embedder.
    /// </summary>
    public static string ResolveEmbedder(string? model)
    {
        if (model is "default") model = null; // the default model by name, as `-m default` reads
        var name = model ?? DefaultEmbedder;
        if (model is not null && (File.Exists(model) || model.Contains('/') || model.Contains('\\') || Path.HasExtension(model)))
            return model;
        return Find(name) ?? throw new ModelException(name, model is null
            ? $"the bundled default model was not found under {string.Join(" or ", Folders())} (it comes with the FaceNet.Models package)"
            : "no such model file, and no bundled model of that name");
    }
}
