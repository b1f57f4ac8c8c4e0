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
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in (string[])[typeof(FaceNet.Cli.FaceNetCli).Assembly.Location, "serve", "-g", gallery, "--urls", "http://127.0.0.1:0",
            "--keys", Path.Combine(dir, "keys.json"), "--threads", "2", .. extra])
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
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
                if (line.StartsWith("listening on ", StringComparison.Ordinal)) return new ServeProcess { Process = p, Address = line.Split(' ')[2], Lines = lines };
                seen.Add(line);
                continue;
            }
            if (p.HasExited) break;
            Thread.Sleep(20);
        }
        if (!p.HasExited) p.Kill(true);
        throw new InvalidOperationException("facenet serve did not start listening: " + string.Join(" | ", seen.TakeLast(5)));
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
