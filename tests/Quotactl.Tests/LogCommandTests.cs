using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Ctl.Tests;

public sealed class LogCommandTests
{
    [Fact]
    public async Task LogsList_Json_IsTheApiPage_FilteredByType()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        await run.RunAsync("keys", "create", "--user", "1", "--period", "daily", "--policy-quota", "20");
        await run.RunAsync("policies", "reset", "1");

        CtlResult system = await run.RunAsync("logs", "list", "--type", "system", "--json");
        Assert.True(system.ExitCode == 0, system.ToString());
        JsonElement[] rows = [.. system.Json.GetProperty("items").EnumerateArray()];
        Assert.NotEmpty(rows);
        Assert.All(rows, row => Assert.Equal("system", row.GetProperty("type").GetString()));

        CtlResult consume = await run.RunAsync("logs", "list", "--type", "consume", "--json");
        Assert.Equal(0, consume.Json.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task LogsFollow_PrintsRowsThatArriveAfterItStarted_AsJsonLines_UntilCancelled()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        await run.RunAsync("keys", "create", "--user", "1", "--period", "daily", "--policy-quota", "20");
        await run.RunAsync("policies", "reset", "1"); // one row before following starts

        var stdout = new StringWriter();
        TextWriter synchronized = TextWriter.Synchronized(stdout);
        string Printed()
        {
            lock (synchronized)
            {
                return stdout.ToString();
            }
        }

        using var stop = new CancellationTokenSource();
        Task<int> following = Program.RunAsync(
            ["--url", run.Url, "--admin-key-file", run.KeyFile, "logs", "list", "--follow", "--interval", "0.1", "--json", "--action", "token.quota_policy.manual_reset"],
            synchronized, TextWriter.Null, _ => null, stop.Token);

        await WaitForAsync(() => Lines(Printed()).Length == 1, following);
        await run.RunAsync("policies", "reset", "1");
        await run.RunAsync("policies", "reset", "1");
        await WaitForAsync(() => Lines(Printed()).Length == 3, following);
        await stop.CancelAsync();

        Assert.Equal(0, await following);
        long[] ids = [.. Lines(Printed()).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetInt64())];
        Assert.Equal(3, ids.Distinct().Count());
        Assert.True(ids[0] < ids[1] && ids[1] < ids[2], "rows are printed oldest first, each once");
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Waits for output (a generous guard against a hang, not a speed assertion).</summary>
    private static async Task WaitForAsync(Func<bool> condition, Task<int> following)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.False(following.IsCompleted, "follow mode ended on its own");
            Assert.True(DateTime.UtcNow < deadline, "follow mode printed nothing new");
            await Task.Delay(50);
        }
    }
}
