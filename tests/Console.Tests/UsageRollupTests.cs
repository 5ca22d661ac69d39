using System.Text.Json;
using Quota.Engine.Persistence;
using Quota.Host.ConsoleUi;
using Quota.Host.Relay;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The dashboard's hourly counters (src/Host/Console/Dashboard/UsageRollup.cs) on a real LiteDB file and a moving clock.</summary>
public sealed class UsageRollupTests
{
    private const long Hour = 3_600_000;
    private static readonly long Start = 1_796_000_000_000 - (1_796_000_000_000 % Hour); // an hour's start

    [Fact]
    public void TheTopListsWindow_CountsTheCurrentHourAndThe23Before_DropsAnHourThatLeaves_AndIsTheSameAfterARestart()
    {
        using var data = new TempDirectory();
        string path = Path.Combine(data.Path, "quota.db");
        long now = Start + (30 * 60_000); // half past
        using (var store = new LiteConfigStore(path))
        {
            var rollup = new UsageRollup(store, () => now, _ => { });
            store.AppendLogs([Consume(Start - (23 * Hour), token: 7, units: 100), Consume(Start - (24 * Hour), token: 7, units: 1_000), Consume(now, token: 7, units: 10), Consume(now, token: 8, units: 5)]);
            Assert.Equal(new Dictionary<int, long> { [7] = 110, [8] = 5 }, Window(rollup));

            now += Hour; // the hour 23 back leaves the window
            Assert.Equal(new Dictionary<int, long> { [7] = 10, [8] = 5 }, Window(rollup));
            store.AppendLogs([Consume(now, token: 8, units: 1)]);
            Assert.Equal(new Dictionary<int, long> { [7] = 10, [8] = 6 }, Window(rollup));
        }

        using (var reopened = new LiteConfigStore(path))
        {
            var rollup = new UsageRollup(reopened, () => now, _ => { });
            Assert.Equal(new Dictionary<int, long> { [7] = 10, [8] = 6 }, Window(rollup));
            long requests = 0;
            rollup.Read(Start - (48 * Hour), long.MaxValue, (_, hour) => requests += hour.Models.Values.Sum(c => c.Requests));
            Assert.Equal(5, requests); // 31 days of model counters: every row, the one 24 hours back too
        }
    }

    [Fact]
    public void ABatchTheStoreRefuses_CountsNothing_AndItsRetryCountsOnce()
    {
        using var data = new TempDirectory();
        using var store = new LiteConfigStore(Path.Combine(data.Path, "quota.db"));
        var rollup = new UsageRollup(store, () => Start, _ => { });
        LogDocument[] batch = [Consume(Start, token: 3, units: 40), Consume(Start, token: 3, units: 2)];
        batch[0].Id = batch[1].Id = 5; // the second row LiteDB refuses (a duplicate id): the whole transaction rolls back
        Assert.ThrowsAny<Exception>(() => store.AppendLogs(batch));
        Assert.Empty(Window(rollup));
        Assert.Empty(store.Rollups(0));

        batch[0].Id = 0;
        batch[1].Id = 0;
        store.AppendLogs(batch);
        Assert.Equal(new Dictionary<int, long> { [3] = 42 }, Window(rollup));
        Assert.Equal(42, store.Rollups(0).Where(r => r.Family == 1).Sum(r => r.Units));
    }

    private static Dictionary<int, long> Window(UsageRollup rollup)
    {
        var sums = new Dictionary<int, long>();
        rollup.ReadKeyWindow((token, counters) => sums[token] = counters.Units);
        return sums;
    }

    private static LogDocument Consume(long atMs, int token, long units) => new()
    {
        AtMs = atMs, Kind = LogKind.Consume, TokenId = token, UserId = 1, AmountUnits = units,
        HostJson = JsonSerializer.Serialize(new ConsumeRow("gpt-4o", 10, 5, units, 10, 5, "Ok", false)),
    };
}
