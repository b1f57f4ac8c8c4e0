using Microsoft.Extensions.Logging;

namespace FaceNet.Cli;

/// <summary>
/// The service's warnings (a gallery it cannot follow, a shard it cannot hand over) as one stderr line each; an error with
/// an exception (an unexpected fault: a 500) also with the request's trace id, the exception's type, message and stack.
/// </summary>
internal sealed class StderrLogs(TextWriter stderr) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(stderr, categoryName);

    public void Dispose() { }

    private sealed class Logger(TextWriter stderr, string category) : ILogger
    {
        // the request's id from ASP.NET Core's per-request scope: the trace id of its problem answer when no activity is running
        private static readonly AsyncLocal<string?> Request = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            if (state is not IEnumerable<KeyValuePair<string, object?>> values
                || values.FirstOrDefault(v => v.Key == "RequestId").Value is not string id) return null;
            var outer = Request.Value;
            Request.Value = id;
            return new Scope(() => Request.Value = outer);
        }

        private sealed class Scope(Action end) : IDisposable
        {
            public void Dispose() => end();
        }

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTime.UtcNow:HH:mm:ss} {logLevel.ToString().ToLowerInvariant()}: {category}: {formatter(state, exception)}";
            // a fault of ours in a request (a 500): what it was and where, with the trace id its answer carries, for the operator;
            // outside a request (a port in use at start) the exception's own words are enough
            if (exception is not null && Request.Value is { } request)
                line += $" [trace {System.Diagnostics.Activity.Current?.Id ?? request}]{Environment.NewLine}{exception}";
            else if (exception is not null && !line.Contains(exception.Message, StringComparison.Ordinal))
                line += $" ({exception.GetType().Name}: {exception.Message.ReplaceLineEndings(" ")})";
            lock (stderr) stderr.WriteLine(line);
        }
    }
}
