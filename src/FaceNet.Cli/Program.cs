namespace FaceNet.Cli;

public static class Program
{
    public static int Main(string[] args) => new FaceNetCli(Console.Out, Console.Error).Run(args);
}
