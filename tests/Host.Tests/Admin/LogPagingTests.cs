using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Admin;

/// <summary>
/// The log's pages read along its indexes: every filter answers what a scan of every row answers (the total counted up
/// to <see cref="LiteConfigStore.LogTotalMax"/> when filtered), a cursor stays put while rows are written, and retention deletes only
/// rows older than its limit.
/// </summary>
public sealed class LogPagingTests : IDisposable
{
    private static readonly LogKind[] Kinds = [LogKind.Consume, LogKind.Consume, LogKind.Consume, LogKind.ExhaustedDisable, LogKind.ThresholdReached, LogKind.AutoRestoreReset];
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    [Fact]
    public void EveryFilter_PageAndCursor_AnswersWhatAScanOfEveryRowAnswers()
    {
        using var store = new LiteConfigStore(Path.Combine(data.Path, "config.db"));
        List<LogDocument> rows = Rows(3000, atMs: i => 1_000_000 + i * 10L);
        store.AppendLogs(rows);
        var queries = new List<LogQuery>();
        foreach (int? token in new int?[] { null, 3, 7 })
        {
            foreach (int? user in new int?[] { null, 1, 2 })
            {
                foreach ((bool? consume, LogKind? kind) in new (bool?, LogKind?)[] { (null, null), (true, null), (false, null), (null, LogKind.ThresholdReached), (null, LogKind.Consume), (false, LogKind.Consume) })
                {
                    queries.Add(new LogQuery(token, user, consume, kind, Page: 1, Size: 20));
                    queries.Add(new LogQuery(token, user, consume, kind, Page: 3, Size: 7));
                    queries.Add(new LogQuery(token, user, consume, kind, Page: 1, Size: 50, BeforeId: 1500));
                    queries.Add(new LogQuery(token, user, consume, kind, Page: 2, Size: 9, FromMs: 1_005_000, ToMs: 1_020_000));
                }
            }
        }

        foreach (LogQuery query in queries)
        {
            List<LogDocument> matching = [.. rows.Where(r =>
                (query.TokenId is null || r.TokenId == query.TokenId) && (query.UserId is null || r.UserId == query.UserId) &&
                (query.Consume is null || (r.Kind == LogKind.Consume) == query.Consume) && (query.Kind is null || r.Kind == query.Kind) &&
                (query.FromMs is null || r.AtMs >= query.FromMs) && (query.ToMs is null || r.AtMs < query.ToMs) &&
                (query.BeforeId is null || r.Id < query.BeforeId)).OrderByDescending(r => r.Id)];
            (IReadOnlyList<LogDocument> items, int total) = store.QueryLogs(query);
            Assert.True(matching.Skip((query.Page - 1) * query.Size).Take(query.Size).Select(r => r.Id).SequenceEqual(items.Select(r => r.Id)), query.ToString());
            bool filtered = query with { Page = 1, Size = 20, BeforeId = null } != new LogQuery();
            Assert.Equal(filtered ? Math.Min(matching.Count, LiteConfigStore.LogTotalMax) : matching.Count, total);
        }
    }

    [Fact]
    public void TheTotal_IsCountedUpToItsCap()
    {
        using var store = new LiteConfigStore(Path.Combine(data.Path, "config.db"));
        store.AppendLogs(Rows(LiteConfigStore.LogTotalMax * 3 + 5, atMs: i => i));
        Assert.Equal(LiteConfigStore.LogTotalMax * 3 + 5, store.QueryLogs(new LogQuery()).Total); // unfiltered: exact, from the ids
        Assert.Equal(4, store.QueryLogs(new LogQuery(BeforeId: 5)).Total);
        Assert.Equal(LiteConfigStore.LogTotalMax, store.QueryLogs(new LogQuery(Consume: true)).Total); // filtered: capped
        Assert.Equal(LiteConfigStore.LogTotalMax, store.QueryLogs(new LogQuery(UserId: 1, BeforeId: 3000)).Total);
        Assert.Equal(2, store.QueryLogs(new LogQuery(UserId: 1, BeforeId: 5)).Total);
    }

    [Fact]
    public async Task ACursor_ReadsTheSameRows_WhileRowsAreWritten()
    {
        using var store = new LiteConfigStore(Path.Combine(data.Path, "config.db"));
        store.AppendLogs(Rows(2000, atMs: i => i));
        using var writing = new CancellationTokenSource();
        Task writer = Task.Run(() =>
        {
            while (!writing.IsCancellationRequested)
            {
                store.AppendLogs(Rows(50, atMs: i => i));
            }
        });

        var seen = new List<long>();
        long? before = null;
        while (true)
        {
            IReadOnlyList<LogDocument> page = store.QueryLogs(new LogQuery(Size: 37, BeforeId: before ?? 2001)).Items;
            if (page.Count == 0)
            {
                break;
            }

            seen.AddRange(page.Select(r => r.Id));
            before = page[^1].Id;
        }

        await writing.CancelAsync();
        await writer;
        Assert.Equal(Enumerable.Range(1, 2000).Reverse().Select(i => (long)i), seen); // every row once, in order, none of the new ones
    }

    [Fact]
    public async Task Retention_DeletesOnlyRowsOlderThanItsLimit()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-06-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        long now = time.GetUtcNow().ToUnixTimeMilliseconds(), day = 86_400_000;
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time, "--Logs:RetentionDays=30");
        QuotaRuntime runtime = host.Services.GetRequiredService<QuotaRuntime>();
        // Mostly in time order, as the writer's batches are; the old rows are 31 days old or more, the kept ones 29 or less.
        long[] ages = [90 * day, 45 * day, 31 * day, 30 * day - 1, 29 * day, day, 0];
        runtime.Store.AppendLogs([.. ages.Select(age => new LogDocument { AtMs = now - age, Kind = LogKind.Consume, TokenId = 1, UserId = 1 })]);

        int pruned = await host.Services.GetRequiredService<global::Quota.Host.Admin.LogRetention>().PruneAsync(CancellationToken.None);

        Assert.Equal(3, pruned);
        Assert.Equal(ages.Skip(3).Select(age => now - age).Reverse(), runtime.Store.QueryLogs(new LogQuery(Size: 100)).Items.Select(r => r.AtMs));
    }

    [Fact]
    public async Task TheApi_PagesByCursor_AndRefusesABadOne()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        List<LogDocument> rows = Rows(30, atMs: i => 1_700_000_000_000 + i);
        host.Services.GetRequiredService<QuotaRuntime>().Store.AppendLogs(rows);

        JsonElement page = await host.GetJsonAsync("/api/logs?before=11&size=4&type=consume");
        long[] ids = [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64())];
        long[] expected = [.. rows.Where(r => r.Id < 11 && r.Kind == LogKind.Consume).Select(r => r.Id).OrderDescending()];
        Assert.Equal(expected.Take(4), ids);
        Assert.Equal(expected.Length, page.GetProperty("total").GetInt32());

        using HttpResponseMessage bad = await host.Admin.GetAsync("/api/logs?before=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("before", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>Rows of mixed kinds, keys and users (the store assigns their ids on append: 1, 2, … in a fresh store).</summary>
    private static List<LogDocument> Rows(int count, Func<int, long> atMs) =>
        [.. Enumerable.Range(0, count).Select(i => new LogDocument
        {
            AtMs = atMs(i),
            Kind = Kinds[i % Kinds.Length],
            TokenId = i % 11,
            UserId = 1 + i % 3,
        })];
}
