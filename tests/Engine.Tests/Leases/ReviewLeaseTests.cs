using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Leases;

/// <summary>Review probes of leased windows: each test states what must hold; a skipped one is an open defect (docs/design.md "Leases").</summary>
public sealed class ReviewLeaseTests
{
    private static readonly EngineOptions Leased = new() { KeysMax = 16, UsersMax = 4, ReservationsMax = 1024, LeasedWindows = true, LeaseAheadRequests = 0 };

    private static int MakeKey(QuotaEngine e, long quota, BoundaryMode boundary) =>
        e.CreateToken(new TokenSpec { UserId = e.CreateUser(1_000_000).Id, RemainQuotaUnits = 1_000_000, Policies = [Policy(quota, PeriodMode.Daily, boundary)] }, T0).Id;

    // Crash after a give-back was taken but before its LeaseReport record was durable: the authority must not have heard
    // of it yet, or the restarted node (which replays no give-back) and the node the authority handed it to would both
    // spend it: 200 admitted in a strict window of 100.
    [Fact]
    public async Task AGiveBackWhoseRecordIsLost_IsNotSpentTwice()
    {
        var authority = new InMemoryLeaseAuthority();
        var log = new CommitGatedSink();
        var a = new QuotaEngine(Leased, log, leases: authority.ForNode(1));
        int token = MakeKey(a, 100, BoundaryMode.Strict);
        a.Refund((await a.ReserveAsync(token, new ReserveRequest(100), T0)).Id, T0); // node 1 leases all 100
        log.Commit();
        ValueTask<int> report = a.ReportLeasesAsync(T0, giveBackFree: true);          // ...and gives them back: not yet durable

        var restarted = new QuotaEngine(Leased);                                     // the crash: the uncommitted tail is lost
        foreach ((DeltaRecord record, byte[]? payload) in log.Committed)
        {
            restarted.Apply(record, payload);
        }

        var b = new QuotaEngine(Leased, leases: authority.ForNode(2));
        Assert.Equal(token, MakeKey(b, 100, BoundaryMode.Strict));
        ReserveOutcome other = await b.ReserveAsync(token, new ReserveRequest(100), T0);
        ReserveOutcome again = restarted.Reserve(token, 100, T0);
        Assert.False(other.IsOk && again.IsOk, "200 admitted in a strict window of 100");
        Assert.False(report.IsCompleted, "the report reached the authority before its record was durable");

        log.Commit();
        Assert.Equal(1, await report);                                                // durable now: the authority has it back
        Assert.Equal(0, authority.Books().Single().LeasedByNode[1]);
    }

    // The authority call fails after the report was applied and its record appended: the report is kept and sent again.
    [Fact]
    public async Task AReportTheAuthorityFailedOn_IsSentAgain()
    {
        var authority = new InMemoryLeaseAuthority();
        var port = new FailingReports(authority.ForNode(1)) { FailuresLeft = 1 };
        var a = new QuotaEngine(Leased, leases: port);
        int token = MakeKey(a, 100, BoundaryMode.Strict);
        a.Settle((await a.ReserveAsync(token, new ReserveRequest(60), T0)).Id, 40, T0);

        await Assert.ThrowsAsync<IOException>(async () => await a.ReportLeasesAsync(T0, giveBackFree: true));
        Assert.Equal((0L, 60L), (authority.Books().Single().UsedUnits, authority.Books().Single().LeasedByNode[1]));

        Assert.Equal(1, await a.ReportLeasesAsync(T0, giveBackFree: true));
        LeaseBook book = authority.Books().Single();
        Assert.Equal((40L, 0L), (book.UsedUnits, book.LeasedByNode[1]));
        Assert.Equal(0, await a.ReportLeasesAsync(T0, giveBackFree: true));         // nothing twice
    }

    // A report that lands between the authority's grant and its TryAddGrant: the node forgives its overrun debt against
    // a lease that does not yet include the grant, the authority against one that does; the node ends up holding more
    // than the authority counts.
    [Fact]
    public async Task AReportRacingAGrant_DoesNotForgiveTheSameDebtTwice()
    {
        var authority = new InMemoryLeaseAuthority();
        var port = new ReportDuringGrant(authority.ForNode(1));
        var a = new QuotaEngine(Leased, leases: port);
        int token = MakeKey(a, 100, BoundaryMode.Strict);
        a.Settle((await a.ReserveAsync(token, new ReserveRequest(50), T0)).Id, 60, T0); // an overrun of 10: used 60

        port.OnGranted = async () => await a.ReportLeasesAsync(T0);                     // the background report, right then
        ReservationId second = (await a.ReserveAsync(token, new ReserveRequest(40), T0)).Id;
        Assert.NotEqual(ReservationId.None, second);                                  // 60 + 40 = 100: fits
        a.Settle(second, 40, T0);

        // One engine without leases: used 100 of 100, so nothing more is admitted.
        var single = new QuotaEngine(Leased with { LeasedWindows = false });
        int k = MakeKey(single, 100, BoundaryMode.Strict);
        single.Settle(single.Reserve(k, 50, T0).Id, 60, T0);
        single.Settle(single.Reserve(k, 40, T0).Id, 40, T0);
        Assert.False(single.Reserve(k, 10, T0).IsOk);

        ReserveOutcome more = await a.ReserveAsync(token, new ReserveRequest(10), T0);
        await a.ReportLeasesAsync(T0);
        Assert.False(more.IsOk, $"leased node admitted 10 more; authority books: used {authority.Books().Single().UsedUnits} of 100");
    }

    // "Each window keeps the mode it started in" (EngineOptions.LeasedWindows): replay decides a window's mode from the
    // options, not from the log, and LeaseGrant/LeaseReport replay onto a window that is not leased.
    [Fact]
    public async Task ALeasedLog_ReplayedWithoutLeasedWindows_DoesNotAddTheGrantsToTheQuota()
    {
        var authority = new InMemoryLeaseAuthority();
        var log = new RecordingSink();
        var a = new QuotaEngine(Leased, log, leases: authority.ForNode(1));
        int token = MakeKey(a, 100, BoundaryMode.Strict);
        a.Settle((await a.ReserveAsync(token, new ReserveRequest(100), T0)).Id, 100, T0); // used 100 of 100

        QuotaEngine replayed = log.Replay(Leased with { LeasedWindows = false });
        ReserveOutcome more = replayed.Reserve(token, 100, T0);
        Assert.False(more.IsOk, $"admitted 100 more in a strict window of 100 already used: {more.Result}");
    }

    // A save that moves the current window (new anchor, same metric, window not over) keeps its counters locally, but the
    // authority keys books by window start: the moved window is a fresh book with no usage and no leases.
    [Fact]
    public async Task ASaveThatMovesTheWindow_KeepsItsUsageAtTheAuthority()
    {
        var authority = new InMemoryLeaseAuthority();
        QuotaPolicySpec hourly = Policy(100, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 60);
        var nodes = new[] { new QuotaEngine(Leased, leases: authority.ForNode(1)), new QuotaEngine(Leased, leases: authority.ForNode(2)) };
        int token = 0;
        foreach (QuotaEngine n in nodes)
        {
            token = n.CreateToken(new TokenSpec { UserId = n.CreateUser(1_000_000).Id, RemainQuotaUnits = 1_000_000, Policies = [hourly] }, T0).Id;
        }

        long now = T0 + 60_000;
        nodes[0].Settle((await nodes[0].ReserveAsync(token, new ReserveRequest(100), now)).Id, 100, now); // the window is used up
        await nodes[0].ReportLeasesAsync(now);

        foreach (QuotaEngine n in nodes)
        {
            Assert.True(n.UpdateToken(token, new TokenUpdate { Policies = [hourly with { AnchorMs = T0 - 1_800_000 }] }, now).IsOk);
        }

        Assert.Equal(100, nodes[0].ReadToken(token, now)!.Policies[0].UsedQuotaUnits); // carried locally
        ReserveOutcome other = await nodes[1].ReserveAsync(token, new ReserveRequest(100), now);
        Assert.False(other.IsOk, $"node 2 admitted 100 in a moved window already used up; books: {string.Join("; ", authority.Books().Select(b => $"{b.WindowStartMs}: used {b.UsedUnits}"))}");
        await nodes[0].ReportLeasesAsync(now);                                                  // node 1's move: already done, a no-op
        LeaseBook moved = authority.Books().Single();
        Assert.Equal((T0 - 1_800_000, 100L), (moved.WindowStartMs, moved.UsedUnits));
    }

    /// <summary>A delta log whose commits a test releases: records appended since the last <see cref="Commit"/> are not durable.</summary>
    private sealed class CommitGatedSink : IDeltaSink
    {
        private readonly RecordingSink records = new();
        private int committedCount;
        private TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IEnumerable<(DeltaRecord Record, byte[]? Payload)> Committed => records.Records.Take(committedCount);

        public bool HasCapacity => true;

        public bool TryPromise(int records) => true;

        public void EndPromise(int records)
        {
        }

        public void Append(in DeltaRecord record) => records.Append(record);

        public void Append(in DeltaRecord record, byte[] payload) => records.Append(record, payload);

        public async ValueTask WhenDurableAsync(CancellationToken cancellationToken)
        {
            int appended = records.Records.Count;
            while (Volatile.Read(ref committedCount) < appended)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }
        }

        public void Commit()
        {
            Volatile.Write(ref committedCount, records.Records.Count);
            Interlocked.Exchange(ref gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
        }
    }

    private sealed class FailingReports(ILeaseAuthority inner) : ILeaseAuthority
    {
        public int FailuresLeft;

        public ValueTask<long> GrantAsync(LeaseWindow window, long askedUnits, CancellationToken cancellationToken) =>
            inner.GrantAsync(window, askedUnits, cancellationToken);

        public ValueTask ReportAsync(LeaseWindow window, long chargedUnits, long givenBackUnits, CancellationToken cancellationToken) =>
            Interlocked.Decrement(ref FailuresLeft) >= 0
                ? ValueTask.FromException(new IOException("the authority is unreachable"))
                : inner.ReportAsync(window, chargedUnits, givenBackUnits, cancellationToken);
        public ValueTask MoveAsync(long fromStartMs, LeaseWindow window, CancellationToken cancellationToken) =>
            inner.MoveAsync(fromStartMs, window, cancellationToken);
    }

    private sealed class ReportDuringGrant(ILeaseAuthority inner) : ILeaseAuthority
    {
        public Func<Task>? OnGranted;

        public async ValueTask<long> GrantAsync(LeaseWindow window, long askedUnits, CancellationToken cancellationToken)
        {
            long granted = await inner.GrantAsync(window, askedUnits, cancellationToken);
            if (OnGranted is { } hook)
            {
                OnGranted = null;
                await hook();
            }

            return granted;
        }

        public ValueTask ReportAsync(LeaseWindow window, long chargedUnits, long givenBackUnits, CancellationToken cancellationToken) =>
            inner.ReportAsync(window, chargedUnits, givenBackUnits, cancellationToken);
        public ValueTask MoveAsync(long fromStartMs, LeaseWindow window, CancellationToken cancellationToken) =>
            inner.MoveAsync(fromStartMs, window, cancellationToken);
    }
}
