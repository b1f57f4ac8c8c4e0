using FaceNet.Cli;

namespace FaceNet.Tests.Cli;

/// <summary>Runs the facenet command line in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public string[] OutLines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = new FaceNetCli(stdout, stderr).Run(args);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }
}
