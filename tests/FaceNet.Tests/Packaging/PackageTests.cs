using System.Diagnostics;

namespace FaceNet.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: packed into a folder feed, a throw-away console app outside the
/// repository built against FaceNet from that feed, and the facenet tool installed from it. Each run
/// packs a version of its own, so no package cached by an earlier run can stand in for this build's.
/// </summary>
[Trait("Category", "Slow")] // packs every package and builds apps from them: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class PackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-packages-").FullName;
    private readonly string _version = $"0.0.0-test{DateTime.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";

    public void Dispose()
    {
        Directory.Delete(_dir, true);
        // the restore cached this run's packages in the global folder: they are of no use to anyone
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "facenet", "facenet.models", "facenet.gallery", "facenet.cluster", "facenet.service", "facenet.tool", "facenet.tool.linux-x64" })
        {
            var folder = Path.Combine(cache, id, _version);
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "FaceNet.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (FaceNet.sln) is not above the test binaries");
    }

    private static (int Code, string Out) Run(string file, string args, string cwd, int timeoutSeconds = 600)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} ran past {timeoutSeconds} s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void A_console_app_and_the_tool_work_from_the_packages_alone()
    {
        var root = RepoRoot();
        var feed = Path.Combine(_dir, "feed");
        foreach (var project in new[] { "src/FaceNet.Models", "src/FaceNet", "src/FaceNet.Gallery", "src/FaceNet.Cluster", "src/FaceNet.Service", "src/FaceNet.Cli" })
        {
            // the tool for this platform only: what `dotnet tool install` takes here
            var extra = project.EndsWith("Cli", StringComparison.Ordinal) ? " -p:ToolPackageRuntimeIdentifiers=linux-x64 -p:RuntimeIdentifiers=linux-x64" : "";
            var (code, output) = Run("dotnet", $"pack {project} -c Release -o \"{feed}\" -p:Version={_version}{extra}", root);
            Assert.True(code == 0, $"dotnet pack {project} failed:\n{output}");
        }

        // a console app outside the repository: the README's five lines
        var app = Path.Combine(_dir, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
              <ItemGroup><PackageReference Include="FaceNet" Version="{_version}" /></ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using FaceNet;
            using var faces = FaceRecognizer.Create();
            var same = faces.Compare(args[0], args[1]);
            var other = faces.Compare(args[0], args[2]);
            Console.WriteLine($"{same.Same} {other.Same} {faces.Model.Info.Name} {faces.Embed(args[0]).Count}");
            """);
        string Sample(string name) => $"\"{Path.Combine(root, "samples", name)}\"";
        var (built, buildLog) = Run("dotnet", "build -c Release", app);
        Assert.True(built == 0, "the console app did not build against the packages:\n" + buildLog);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "models", "fused", "fused.json")), "the models did not come with the package");
        var (ran, answer) = Run("dotnet", $"bin/Release/net10.0/app.dll {Sample("person_a_1.jpg")} {Sample("person_a_2.jpg")} {Sample("person_b.jpg")}", app);
        Assert.True(ran == 0, answer);
        Assert.Equal("True False fused 1", answer.Trim());

        // published for one platform, as the README says to ship it: no other platform's native libraries
        var (published, publishLog) = Run("dotnet", "publish -c Release -r linux-x64 --self-contained false -o pub", app);
        Assert.True(published == 0, publishLog);
        var pub = Path.Combine(app, "pub");
        Assert.False(Directory.Exists(Path.Combine(pub, "runtimes")), "the linux-x64 publish still carries runtimes/ for other platforms");
        long bytes = new DirectoryInfo(pub).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.True(bytes < 200L << 20, $"the published app is {bytes >> 20} MB");
        var (pubRan, pubAnswer) = Run(Path.Combine(pub, "app"), $"{Sample("person_a_1.jpg")} {Sample("person_a_2.jpg")} {Sample("person_b.jpg")}", app);
        Assert.True(pubRan == 0, pubAnswer);
        Assert.Equal("True False fused 1", pubAnswer.Trim());

        // the C# blocks of the README and of every page under docs/, verbatim, each as the program of an app of its own
        var pages = new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal)).ToList();
        var blocks = pages.SelectMany(page => CSharpBlocks(File.ReadAllText(page))
            .Select((code, i) => (Label: $"{Path.GetRelativePath(root, page)} C# block {i + 1}", Code: code))).ToList();
        Assert.True(blocks.Any(b => b.Label.StartsWith("README.md ", StringComparison.Ordinal)), "no C# block in the README");
        Assert.True(blocks.Count >= 3, $"{blocks.Count} C# blocks in the README and docs/");
        Assert.Contains(blocks, b => b.Code.Contains("WebApplication", StringComparison.Ordinal)); // the embedded service's block
        for (int i = 0; i < blocks.Count; i++) RunDocBlock(i, blocks[i].Label, blocks[i].Code, root);

        // the tool
        var tools = Path.Combine(_dir, "tools");
        var (installed, installLog) = Run("dotnet", $"tool install FaceNet.Tool --version {_version} --tool-path \"{tools}\" --add-source \"{feed}\"", app);
        Assert.True(installed == 0, installLog);
        var (compared, verdict) = Run(Path.Combine(tools, "facenet"), $"compare --json {Sample("person_a_1.jpg")} {Sample("person_b.jpg")}", app);
        Assert.True(compared == 0, verdict);
        Assert.Contains("\"same\":false", verdict);
    }

    /// <summary>The ```csharp blocks of a Markdown text.</summary>
    private static List<string> CSharpBlocks(string markdown)
    {
        var blocks = new List<string>();
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp") continue;
            int end = Array.FindIndex(lines, i + 1, l => l.Trim() == "```");
            blocks.Add(string.Join("\n", lines[(i + 1)..end]));
            i = end;
        }
        return blocks;
    }

    /// <summary>
    /// Builds a C# block of the README or of a docs/ page against the packages and runs it: a library block on
    /// photos named as it names them; a web app block (FaceNet.Service) on a free port, asked for its own page and
    /// for the API without a key.
    /// </summary>
    private void RunDocBlock(int n, string label, string code, string root)
    {
        bool web = code.Contains("WebApplication", StringComparison.Ordinal);
        var dir = Path.Combine(_dir, $"readme{n}");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(_dir, "app", "nuget.config"), Path.Combine(dir, "nuget.config"));
        File.WriteAllText(Path.Combine(dir, "readme.csproj"), $"""
            <Project Sdk="{(web ? "Microsoft.NET.Sdk.Web" : "Microsoft.NET.Sdk")}">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable><TreatWarningsAsErrors>true</TreatWarningsAsErrors></PropertyGroup>
              <ItemGroup><PackageReference Include="{(web ? "FaceNet.Service" : "FaceNet")}" Version="{_version}" /></ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), code);
        var (built, log) = Run("dotnet", "build -c Release", dir);
        Assert.True(built == 0, $"{label} does not compile against the packages:\n{code}\n{log}");
        var dll = Path.Combine(dir, "bin", "Release", "net10.0", "readme.dll");
        if (!web)
        {
            File.Copy(Path.Combine(root, "samples", "person_a_1.jpg"), Path.Combine(dir, "a.jpg"));
            File.Copy(Path.Combine(root, "samples", "person_a_2.jpg"), Path.Combine(dir, "b.jpg"));
            File.Copy(TestImages.DataPath("faces", "couple.jpg"), Path.Combine(dir, "group.jpg"));
            var (ran, output) = Run("dotnet", $"\"{dll}\"", dir);
            Assert.True(ran == 0, $"{label} failed:\n{output}");
            Assert.Contains("same person: True", output);
            return;
        }
        int port = FreePort.Next();
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port}") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            string? page = null;
            for (var until = DateTime.UtcNow.AddSeconds(120); page is null && DateTime.UtcNow < until && !p.HasExited;)
            {
                try { page = http.GetStringAsync("/").GetAwaiter().GetResult(); }
                catch (HttpRequestException) { Thread.Sleep(250); }
            }
            Assert.True(page is not null, $"{label} did not answer on port {port}");
            Assert.Equal("my app, with faces", page);
            var refused = http.PostAsync("/v1/detect", new MultipartFormDataContent()).GetAwaiter().GetResult();
            Assert.Equal(401, (int)refused.StatusCode); // the API is there, behind its keys
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
    }

}
