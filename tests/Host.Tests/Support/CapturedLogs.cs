using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Quota.Host.Tests.Support;

/// <summary>
/// Every log line a host writes (information too when the host's level lets it through), rendered with its category,
/// event and exception: for tests that read the log, or look for what must never be logged.
/// </summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message, string Rendered)> lines = new();

    public IReadOnlyList<(LogLevel Level, string Message)> Lines => lines.Select(l => (l.Level, l.Message)).ToArray();

    /// <summary>Every line with its level, category, event name and exception.</summary>
    public string Text => string.Join("\n", lines.Select(l => $"{l.Level}: {l.Rendered}"));

    /// <summary>A host configuration callback that adds this provider.</summary>
    public void AddTo(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            owner.lines.Enqueue((logLevel, message, $"{category} {eventId.Name} {message} {exception}"));
        }
    }
}
