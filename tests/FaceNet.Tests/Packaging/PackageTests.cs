using System.Diagnostics;

namespace FaceNet.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: packed into a folder feed, a throw-away console app outside the
/// repository built against FaceNet from that feed, and the facenet tool installed from it. Each run
/// packs a version of its own, so no package cached by an earlier run can stand in for this build's.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("facenet-packages-").FullName;
    private readonly string _version = $"0.0.0-test{DateTime.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";

    public void Dispose()
    {
        Directory.Delete(_dir, true);
        // the restore cached this run's packages in the global folder: they are of no use to anyone
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "facenet", "facenet.models", "facenet.tool", "facenet.tool.linux-x64" })
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
        foreach (var project in new[] { "src/FaceNet.Models", "src/FaceNet", "src/FaceNet.Cli" })
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

        // the tool
        var tools = Path.Combine(_dir, "tools");
        var (installed, installLog) = Run("dotnet", $"tool install FaceNet.Tool --version {_version} --tool-path \"{tools}\" --add-source \"{feed}\"", app);
        Assert.True(installed == 0, installLog);
        var (compared, verdict) = Run(Path.Combine(tools, "facenet"), $"compare --json {Sample("person_a_1.jpg")} {Sample("person_b.jpg")}", app);
        Assert.True(compared == 0, verdict);
        Assert.Contains("\"same\":false", verdict);
    }
}
