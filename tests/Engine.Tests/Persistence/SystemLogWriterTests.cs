using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests.Persistence;

/// <summary>The log-row writer: structured rows, and a store that fails is reported, never a silently dead loop.</summary>
public sealed class SystemLogWriterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task WhenTheStoreThrows_TheFaultIsReported_AndTheLoopWritesAgainOnceItHeals()
    {
        var store = new FlakyStore { Failing = true };
        var seen = new List<Exception>();
        await using var writer = new SystemLogWriter(store, retryPause: TimeSpan.FromMilliseconds(1));
        writer.WriteFailed += exception => { lock (seen) { seen.Add(exception); } };

        writer.Record(Exhausted(tokenId: 7));
        await Until(() => writer.FailedWrites >= SystemLogWriter.AttemptsMax && writer.DroppedRows == 1);
        Assert.Contains("injected", writer.Fault, StringComparison.Ordinal);
        lock (seen)
        {
            Assert.True(seen.Count >= SystemLogWriter.AttemptsMax);
        }

        store.Failing = false;
        writer.Record(Exhausted(tokenId: 8));
        await Until(() => store.Rows.Count == 1);
        Assert.Null(writer.Fault);
        Assert.Equal(8, store.Rows[0].TokenId);
    }

    [Fact]
    public async Task ABatchRefusedOnce_IsRetried_AndWritten()
    {
        var store = new FlakyStore { FailuresLeft = 1 };
        await using var writer = new SystemLogWriter(store, retryPause: TimeSpan.FromMilliseconds(1));

        writer.Record(Exhausted(tokenId: 3));
        await Until(() => store.Rows.Count == 1);

        Assert.Equal((1L, 0L), (writer.FailedWrites, writer.DroppedRows));
        Assert.Null(writer.Fault);
    }

    [Fact]
    public async Task AnAuditEvent_IsStoredAsAStructuredEvent_WithoutSentences()
    {
        using var dir = new TempDirectory();
        using var store = new LiteConfigStore(Path.Combine(dir.Path, "quota.db"));
        await using (var writer = new SystemLogWriter(store))
        {
            writer.Record(Exhausted(tokenId: 5));
        }

        LogDocument row = Assert.Single(store.QueryLogs(new LogQuery(TokenId: 5, Consume: false)).Items);
        Assert.Equal((LogKind.ExhaustedDisable, 2, PolicyMetric.Tokens, 120L, 100L, 9_000L, 1_000L, 5_000L),
            (row.Kind, row.PolicyIndex, row.Metric, row.UsedUnits, row.LimitUnits, row.WindowEndMs, row.WindowStartMs, row.AtMs));
        Assert.Null(row.HostJson);
        Assert.Empty(store.QueryLogs(new LogQuery(TokenId: 5, Consume: true)).Items);
    }

    private static AuditEvent Exhausted(int tokenId) => new(
        AuditAction.ExhaustedDisable, tokenId, UserId: 1, PolicyIndex: 2, AtMs: 5_000, UsedQuotaUnits: 120, QuotaUnits: 100,
        NextResetAtMs: 9_000, NewPeriodStartMs: 1_000, TokenStatus.Enabled, ReservationId.None, 0, PolicyMetric.Tokens);

    private static async Task Until(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (!condition())
        {
            await Task.Delay(5, deadline.Token);
        }
    }

    /// <summary>A store that refuses writes while <see cref="Failing"/> is set or <see cref="FailuresLeft"/> is positive.</summary>
    private sealed class FlakyStore : ILogRowStore
    {
        public volatile bool Failing;
        public int FailuresLeft;
        public List<LogDocument> Rows { get; } = [];

        public void AppendLogs(IReadOnlyCollection<LogDocument> rows)
        {
            if (Failing || Interlocked.Decrement(ref FailuresLeft) >= 0)
            {
                throw new IOException("injected: the store refused the batch");
            }

            lock (Rows)
            {
                Rows.AddRange(rows);
            }
        }
    }
}
