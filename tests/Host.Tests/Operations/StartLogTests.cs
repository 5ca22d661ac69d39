using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Operations;

/// <summary>What the start logs about the engine: one line, with every recovery number (docs/operations.md "Restore").</summary>
public sealed class StartLogTests
{
    [Fact]
    public async Task TheEnginesOpening_IsLoggedOnce_WithEveryRecoveryNumber()
    {
        using var data = new TempDirectory();
        var logs = new CapturedLogs();
        await using (HostUnderTest first = await HostUnderTest.StartConfiguredAsync(data.Path, null, null))
        {
            await first.CreateUserAsync(); // something to replay
        }

        await using HostUnderTest host = await HostUnderTest.StartConfiguredAsync(data.Path, null, logs.AddTo, "--Logging:LogLevel:Default=Information");

        string opened = Assert.Single(logs.Lines, l => l.Message.StartsWith("Quota engine opened", StringComparison.Ordinal)).Message;
        foreach (string part in new[] { "snapshot at sequence", "loaded in", "records replayed from", "log entries up to sequence", "resuming at log address", "recovery took" })
        {
            Assert.Contains(part, opened, StringComparison.Ordinal);
        }
    }
}
