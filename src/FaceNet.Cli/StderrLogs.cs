using Microsoft.Extensions.Logging;

namespace FaceNet.Cli;

/// <summary>The service's warnings (a gallery it cannot follow, a shard it cannot hand over) as one stderr line each.</summary>
internal sealed class StderrLogs(TextWriter stderr) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(stderr, categoryName);

    public void Dispose() { }

    private sealed class Logger(TextWriter stderr, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTime.UtcNow:HH:mm:ss} {logLevel.ToString().ToLowerInvariant()}: {category}: {formatter(state, exception)}";
            lock (stderr) stderr.WriteLine(line);
        }
    }
}
