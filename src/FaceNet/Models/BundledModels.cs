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

    /// <summary>Folders searched: <c>models/</c> beside the running binaries, then the repository's <c>models/</c> above them.</summary>
    public static IEnumerable<string> Folders()
    {
        yield return Path.Combine(AppContext.BaseDirectory, "models");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FaceNet.sln"))) { yield return Path.Combine(dir.FullName, "models"); break; }
    }

    /// <summary>
    /// The path of a bundled model: <c>models/NAME/NAME.onnx</c>, a fused model <c>models/NAME/NAME.json</c>,
    /// or a TF.js weights manifest in <c>models/NAME/</c> (imported when loaded, which keeps the repository
    /// small); null if absent.
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
            var dir = Path.Combine(folder, name);
            if (Directory.Exists(dir) && Directory.GetFiles(dir, "*-weights_manifest.json").FirstOrDefault() is { } manifest) return manifest;
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
        var name = model ?? DefaultEmbedder;
        if (model is not null && (File.Exists(model) || model.Contains('/') || model.Contains('\\') || Path.HasExtension(model)))
            return model;
        return Find(name) ?? throw new ModelException(name, model is null
            ? "the bundled default model was not found under models/"
            : "no such model file, and no bundled model of that name under models/");
    }
}
