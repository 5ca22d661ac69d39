using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Operations;

/// <summary>
/// The data directory and everything in it are private to the host's user from the first byte (checked on the real
/// files: the log, LiteDB, the generated admin key, the console's keys); an existing directory open to others is
/// named in a warning at start.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix's
public sealed class DataDirectoryModeTests
{
    private const UnixFileMode OthersAccess = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [Fact]
    public async Task ANewDataDirectory_Is0700_AndEveryFileInIt0600()
    {
        using var parent = new TempDirectory();
        string dataDir = Path.Combine(parent.Path, "data");
        await using (HostUnderTest host = await HostUnderTest.StartAsync(dataDir, null, null, "--Quota:AdminKey="))
        {
            using HttpResponseMessage console = await host.Client.GetAsync("/"); // the console's data-protection keys are created on use
        }

        Assert.True(File.Exists(Path.Combine(dataDir, "admin.key")));
        Assert.True(File.Exists(Path.Combine(dataDir, "quota.db")));
        var wrong = new List<string>();
        foreach (string path in Directory.EnumerateFileSystemEntries(dataDir, "*", SearchOption.AllDirectories).Prepend(dataDir))
        {
            UnixFileMode mode = File.GetUnixFileMode(path);
            UnixFileMode expected = Directory.Exists(path)
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                : UnixFileMode.UserRead | UnixFileMode.UserWrite;
            if ((mode & OthersAccess) != 0 || (mode & expected) != expected)
            {
                wrong.Add($"{Path.GetRelativePath(parent.Path, path)}: {Convert.ToString((int)mode, 8)}");
            }
        }

        Assert.True(wrong.Count == 0, "open to others: " + string.Join(", ", wrong));
    }

    [Fact]
    public async Task AnExistingDataDirectoryOpenToOthers_IsNamedInAWarningAtStart()
    {
        using var data = new TempDirectory();
        File.SetUnixFileMode(data.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        var log = new CapturedLog();
        await using (await HostUnderTest.StartConfiguredAsync(data.Path, null, services => services.AddSingleton<ILoggerProvider>(log)))
        {
        }

        Assert.Contains(log.Lines, line => line.Contains(data.Path, StringComparison.Ordinal) && line.Contains("755", StringComparison.Ordinal) &&
            line.Contains("open to other users", StringComparison.Ordinal));

        File.SetUnixFileMode(data.Path, (UnixFileMode)Convert.ToInt32("700", 8));
        var quiet = new CapturedLog();
        await using (await HostUnderTest.StartConfiguredAsync(data.Path, null, services => services.AddSingleton<ILoggerProvider>(quiet)))
        {
        }

        Assert.DoesNotContain(quiet.Lines, line => line.Contains("open to other users", StringComparison.Ordinal));
    }

    /// <summary>Warnings and above, as text.</summary>
    private sealed class CapturedLog : ILoggerProvider, ILogger
    {
        private readonly ConcurrentQueue<string> lines = new();

        public IReadOnlyCollection<string> Lines => lines;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(formatter(state, exception));

        public void Dispose()
        {
        }
    }
}
