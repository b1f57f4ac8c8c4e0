using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace FaceNet.Tests.Service;

/// <summary>`facenet serve` as its own process (the built CLI under dotnet), as it runs in production; killed when disposed.</summary>
internal sealed class ServeProcess : IDisposable
{
    public required Process Process { get; init; }
    public required string Address { get; init; }
    public required Channel<string> Lines { get; init; }
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Starts it in <paramref name="dir"/> (keys in DIR/keys.json, a free port) and waits for its "listening on" line.</summary>
    public static ServeProcess Start(string dir, string gallery, params string[] extra)
    {
        var p = Process.Start(Serve(dir, gallery, extra))!;
        var lines = Channel.CreateUnbounded<string>();
        // read on their own tasks: a child that hangs without printing cannot hang the test
        _ = Task.Run(async () => { while (await p.StandardOutput.ReadLineAsync() is { } l) lines.Writer.TryWrite(l); lines.Writer.TryComplete(); });
        _ = Task.Run(async () => { while (await p.StandardError.ReadLineAsync() is { } l) lines.Writer.TryWrite("stderr: " + l); });
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var seen = new List<string>();
        while (DateTime.UtcNow < deadline)
        {
            if (lines.Reader.TryRead(out var line))
            {
                if (line.StartsWith("listening on ", StringComparison.Ordinal))
                {
                    var started = new ServeProcess { Process = p, Address = line.Split(' ')[2], Lines = lines };
                    started.Seen.AddRange(seen); // what it said before it listened (warnings at start)
                    return started;
                }
                seen.Add(line);
                continue;
            }
            if (p.HasExited) break;
            Thread.Sleep(20);
        }
        if (!p.HasExited) p.Kill(true);
        throw new InvalidOperationException("facenet serve did not start listening: " + string.Join(" | ", seen.TakeLast(5)));
    }

    // FACENET_TEST_CLI may name another build's FaceNet.Cli.dll: the same probes measured on an earlier release
    private static string Cli => Environment.GetEnvironmentVariable("FACENET_TEST_CLI") is { Length: > 0 } other ? other : typeof(FaceNet.Cli.FaceNetCli).Assembly.Location;

    private static ProcessStartInfo Serve(string dir, string gallery, string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in (string[])[Cli, "serve", "-g", gallery, "--urls", "http://127.0.0.1:0", "--keys", Path.Combine(dir, "keys.json"), "--threads", "2", .. extra])
            psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs `facenet serve` that is expected not to start: its exit code and what it printed (killed after 90 s if it does start).</summary>
    public static (int ExitCode, string Output) Refused(string dir, string gallery, params string[] extra)
    {
        using var p = Process.Start(Serve(dir, gallery, extra))!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000))
        {
            p.Kill(true);
            p.WaitForExit();
            return (-1, "still running after 90 s: " + output.Result + error.Result);
        }
        return (p.ExitCode, output.Result + error.Result);
    }

    /// <summary>What the process printed on stderr so far (lines already read are kept in <see cref="Seen"/>).</summary>
    public IReadOnlyList<string> StderrSoFar()
    {
        while (Lines.Reader.TryRead(out var l)) Seen.Add(l);
        return [.. Seen.Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).Select(l => l[8..])];
    }

    public List<string> Seen { get; } = [];

    /// <summary>The process's resident memory now (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>A new key in DIR/keys.json with these scopes.</summary>
    public static string AddKey(string dir, string scopes = "admin")
    {
        var r = FaceNet.Tests.Cli.CliRunner.Run("keys", "add", "k" + Guid.NewGuid().ToString("N")[..6], "--scopes", scopes, "--keys", Path.Combine(dir, "keys.json"));
        Assert.Equal(0, r.ExitCode);
        return r.OutLines[^1];
    }

    public Task<(int Status, JsonElement Body)> Post(string path, string key, HttpContent content) => Send(HttpMethod.Post, path, key, content);

    public async Task<(int Status, JsonElement Body)> Send(HttpMethod method, string path, string key, HttpContent? content = null)
    {
        using var req = new HttpRequestMessage(method, Address + path) { Content = content };
        req.Headers.Add("X-API-Key", key);
        using var res = await Http.SendAsync(req);
        var text = await res.Content.ReadAsStringAsync();
        return ((int)res.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(true);
        Process.WaitForExit(10_000);
        Process.Dispose();
        Http.Dispose();
    }
}
