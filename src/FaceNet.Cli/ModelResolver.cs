using FaceNet.Embedding;

namespace FaceNet.Cli;

/// <summary>Finds the model a command runs: a path given with --model, a bundled model's name, or the bundled default.</summary>
internal static class ModelResolver
{
    public const string DefaultModelName = "mobilefacenet";

    /// <summary>Folders searched for bundled models: beside the tool, then the repository's <c>models/</c> above it.</summary>
    public static IEnumerable<string> ModelFolders()
    {
        var baseDir = AppContext.BaseDirectory;
        yield return Path.Combine(baseDir, "models");
        for (var dir = new DirectoryInfo(baseDir); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FaceNet.sln"))) { yield return Path.Combine(dir.FullName, "models"); break; }
    }

    public static string Resolve(string? model)
    {
        if (model is not null && (File.Exists(model) || model.Contains('/') || model.Contains('\\') || Path.HasExtension(model)))
            return model; // a path: FaceEmbedder reports it if it is missing
        var name = model ?? DefaultModelName;
        foreach (var folder in ModelFolders())
        {
            var candidate = Path.Combine(folder, name, name + ".onnx");
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(folder, name + ".onnx");
            if (File.Exists(candidate)) return candidate;
        }
        throw new ModelException(name, model is null
            ? "no --model given and the bundled default model was not found under models/"
            : "no such model file, and no bundled model of that name under models/");
    }
}
