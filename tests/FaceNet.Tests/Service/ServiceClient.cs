using System.Net.Http.Headers;
using System.Text.Json;
using FaceNet.Service;
using FaceNet.Service.Keys;

namespace FaceNet.Tests.Service;

/// <summary>A running service on a free port of 127.0.0.1 (real Kestrel), with keys made for the test, and an HTTP client for it.</summary>
public sealed class RunningService : IAsyncDisposable
{
    private RunningService(FaceServiceHost host, string dir)
    {
        Host = host;
        Dir = dir;
        Http = new HttpClient { BaseAddress = new Uri(host.Address), Timeout = TimeSpan.FromSeconds(120) };
    }

    public FaceServiceHost Host { get; }
    public string Dir { get; }
    public HttpClient Http { get; }
    public string KeysFile => Path.Combine(Dir, "keys.json");

    /// <summary>Keys made before the service starts (name, scopes, rate), found in <see cref="Keys"/> by name.</summary>
    public Dictionary<string, string> Keys { get; } = [];

    public static async Task<RunningService> StartAsync(Func<ServiceOptions, ServiceOptions>? configure = null, string? gallery = "gallery.db", string? dir = null,
        params (string Name, string Scopes, double Rate)[] keys)
    {
        dir ??= Directory.CreateTempSubdirectory("facenet-svc-").FullName;
        var made = keys.ToDictionary(k => k.Name, k => ApiKeys.Add(Path.Combine(dir, "keys.json"), k.Name, k.Scopes.Split(',').Select(s => ApiKeys.ParseScope("", s)).ToList(), k.Rate));
        var options = new ServiceOptions
        {
            Urls = "http://127.0.0.1:0",
            Gallery = gallery is null ? null : (FaceNet.Gallery.GalleryStores.IsPostgres(gallery) ? gallery : Path.Combine(dir, gallery)),
            KeysFile = Path.Combine(dir, "keys.json"),
            Recognizer = new FaceRecognizerOptions(),
            FollowPoll = TimeSpan.FromMilliseconds(200),
        };
        if (configure is not null) options = configure(options);
        var running = new RunningService(await FaceServiceHost.StartAsync(options), dir);
        foreach (var (name, key) in made) running.Keys[name] = key;
        return running;
    }

    public string AddKey(string name, string scopes, double rate = 1000)
        => ApiKeys.Add(KeysFile, name, scopes.Split(',').Select(s => ApiKeys.ParseScope(KeysFile, s)).ToList(), rate);

    public static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);
    public static string Face(string name) => TestImages.DataPath("faces", name);

    public static MultipartFormDataContent Form(params (string Field, string File)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (field, file) in files) form.Add(Part(File.ReadAllBytes(file)), field, Path.GetFileName(file));
        return form;
    }

    public static ByteArrayContent Part(byte[] bytes)
    {
        var c = new ByteArrayContent(bytes);
        c.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return c;
    }

    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> Send(HttpMethod method, string path, string? key, HttpContent? content = null)
    {
        using var req = new HttpRequestMessage(method, path) { Content = content };
        if (key is not null) req.Headers.Add("X-API-Key", key);
        var res = await Http.SendAsync(req);
        var text = await res.Content.ReadAsStringAsync();
        var body = text.Length > 0 && (res.Content.Headers.ContentType?.MediaType?.Contains("json") ?? false) ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return ((int)res.StatusCode, body, res);
    }

    public Task<(int Status, JsonElement Body, HttpResponseMessage Response)> Post(string path, string? key, HttpContent content) => Send(HttpMethod.Post, path, key, content);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
