using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace FaceNet.Tests;

/// <summary>
/// A throw-away PostgreSQL cluster for the tests that need one: Debian's server binaries (installed by
/// ./test.sh when missing), initdb in a temporary folder, a free port on 127.0.0.1, run as the
/// <c>postgres</c> user when the tests run as root (PostgreSQL refuses to run as root). Each test takes
/// its own database. Stopped and deleted when the run ends.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string _dir;
    private readonly string _pgCtl;
    private readonly bool _asPostgres;

    public PostgresServer()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null) throw new InvalidOperationException("PostgreSQL's server is not installed (Debian package 'postgresql'): run ./test.sh, which installs it");
        _pgCtl = Path.Combine(bin, "pg_ctl");
        _asPostgres = Environment.UserName == "root";
        _dir = Path.Combine(Path.GetTempPath(), "facenet-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        if (_asPostgres) Run("chown", "postgres:postgres", _dir);
        Port = FreePort.Next();
        RunAs(Path.Combine(bin, "initdb"), "-D", Path.Combine(_dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        Start();
    }

    public int Port { get; }

    /// <summary>The cluster's data folder (tables, write-ahead log): what a copy of the server's disk holds.</summary>
    public string DataDirectory => Path.Combine(_dir, "data");

    public string Admin => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    /// <summary>A new, empty database; its connection string.</summary>
    public string NewDatabase()
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..12];
        using (var c = new NpgsqlConnection(Admin))
        {
            c.Open();
            using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
            cmd.ExecuteNonQuery();
        }
        return $"Host=127.0.0.1;Port={Port};Username=postgres;Database={name}";
    }

    /// <summary>Stops the server at once (as a crash would), for tests of what happens while the database is away.</summary>
    public void Stop() => RunAs(_pgCtl, "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");

    /// <summary>Starts it again on the same port and data.</summary>
    public void Start() => RunAs(_pgCtl, "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "log"), "-w", "-t", "60",
        "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start");

    public void Dispose()
    {
        try { RunAs(_pgCtl, "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"); }
        catch (InvalidOperationException) { }
        try { Directory.Delete(_dir, true); }
        catch (IOException) { }
    }


    private void RunAs(string program, params string[] args)
    {
        if (_asPostgres) Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Run(program, args);
    }

    private static void Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new InvalidOperationException($"{program} did not finish in 2 minutes"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({p.ExitCode}): {err.Result}{output.Result}");
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;
