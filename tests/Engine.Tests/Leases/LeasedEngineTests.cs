using Quota.Engine.Accounts;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Leases;

/// <summary>One engine with leased windows (src/Engine/QuotaEngine.Leases.cs): the two doors, grants, give-backs, reports, recovery.</summary>
public sealed class LeasedEngineTests
{
    private readonly InMemoryLeaseAuthority authority = new();
    private readonly RecordingSink log = new();
    private readonly EngineOptions options = new() { KeysMax = 16, UsersMax = 4, ReservationsMax = 1024, LeasedWindows = true, LeaseAheadRequests = 4 };
    private readonly QuotaEngine engine;
    private readonly int token;
    private long now = T0;

    public LeasedEngineTests()
    {
        engine = new QuotaEngine(options, log, leases: authority.ForNode(1));
        int user = engine.CreateUser(1_000_000).Id;
        token = engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1_000_000, Policies = [Policy(1_000, PeriodMode.Daily, BoundaryMode.Strict)] }, now).Id;
    }

    private ref WindowCell Cell => ref engine.FindKey(token)!.Slots![0]!.Cell;

    [Fact]
    public void Reserve_WithNoLease_IsLeaseShort_NamesTheWindow_AndChangesNothing()
    {
        string before = EngineState.Describe(engine, now);

        ReserveOutcome outcome = engine.Reserve(token, 10, now);

        Assert.Equal(ReserveResult.LeaseShort, outcome.Result);
        Assert.Equal(AccountId.Window(token, 0), outcome.Account);
        Assert.Equal(before, EngineState.Describe(engine, now));
        Assert.Equal(0, authority.GrantCalls); // the synchronous door never asks
    }

    [Fact]
    public async Task ReserveAsync_AsksForWhatIsShortAndLeaseAheadRequestsMore_ThenAdmitsFromTheLease()
    {
        ReserveOutcome first = await engine.ReserveAsync(token, new ReserveRequest(10), now);
        ReserveOutcome second = await engine.ReserveAsync(token, new ReserveRequest(10), now);

        Assert.True(first.IsOk && second.IsOk);
        Assert.Equal(1, authority.GrantCalls);
        Assert.Equal(10 + (4 * 10), authority.Books().Single().LeasedByNode[1]);
        Assert.Equal((30L, 50L, 20L), (Cell.Headroom, Cell.Leased, Cell.Reserved));
        Assert.Contains(log.Records, r => r.Record.Kind == DeltaKind.LeaseGrant && r.Record.GrantedUnits == 50);
    }

    [Fact]
    public async Task ReserveAsync_WhenTheAuthorityHasNothingLeft_RefusesAsTheWindowWould()
    {
        var other = authority.ForNode(2);
        var window = new LeaseWindow(AccountId.Window(token, 0), Cell.WindowStartMs, Cell.WindowEndMs, 1_000);
        Assert.Equal(995, await other.GrantAsync(window, 995, default)); // another node holds all but 5

        ReserveOutcome tooLarge = await engine.ReserveAsync(token, new ReserveRequest(10), now);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, tooLarge.Result); // 5 left, strict: does not fit
        Assert.Equal(AccountId.Window(token, 0), tooLarge.Account);
        Assert.True((await engine.ReserveAsync(token, new ReserveRequest(5), now)).IsOk);
        Assert.Equal(ReserveResult.PolicyExhausted, (await engine.ReserveAsync(token, new ReserveRequest(1), now)).Result);
    }

    [Fact]
    public async Task Settle_GivesTheUnusedEstimateBackToTheLease_NotToTheAuthority()
    {
        ReservationId id = (await engine.ReserveAsync(token, new ReserveRequest(40), now)).Id;
        long grants = authority.GrantCalls;

        engine.Settle(id, 15, now);

        Assert.Equal((200L - 15, 200L, 15L, 0L), (Cell.Headroom, Cell.Leased, Cell.Used, Cell.Reserved));
        Assert.Equal(0, authority.Books().Single().UsedUnits);
        Assert.Equal(grants, authority.GrantCalls);
    }

    [Fact]
    public async Task ReportLeases_MovesChargesToTheAuthority_AndGivesFreeLeaseBackOnlyWhenAsked()
    {
        engine.Settle((await engine.ReserveAsync(token, new ReserveRequest(40), now)).Id, 15, now);

        Assert.Equal(1, await engine.ReportLeasesAsync(now));
        LeaseBook book = authority.Books().Single();
        Assert.Equal((15L, 200L - 15), (book.UsedUnits, book.LeasedByNode[1]));
        Assert.Equal(0, await engine.ReportLeasesAsync(now)); // nothing new

        Assert.Equal(1, await engine.ReportLeasesAsync(now, giveBackFree: true));
        book = authority.Books().Single();
        Assert.Equal((15L, 0L), (book.UsedUnits, book.LeasedByNode[1]));
        Assert.Equal((0L, 0L, 15L, 15L), (Cell.Headroom, Cell.Leased, Cell.Used, Cell.Reported));
    }

    [Fact]
    public async Task AWindowThatEnds_SendsItsClosingReport_AndTheNextStartsWithNoLease()
    {
        ReservationId open = (await engine.ReserveAsync(token, new ReserveRequest(40), now)).Id;
        engine.Settle((await engine.ReserveAsync(token, new ReserveRequest(30), now)).Id, 30, now);
        long endedStart = Cell.WindowStartMs;

        now += (long)TimeSpan.FromDays(1).TotalMilliseconds;
        Assert.Equal(ReserveResult.LeaseShort, engine.Reserve(token, 1, now).Result);
        Assert.Equal((0L, 0L), (Cell.Headroom, Cell.Leased));
        Assert.Equal(1, await engine.ReportLeasesAsync(now));

        LeaseBook ended = authority.Books().Single(b => b.WindowStartMs == endedStart);
        Assert.Equal((30L, 0L), (ended.UsedUnits, ended.LeasedByNode[1])); // the open hold went back with the lease
        Assert.Equal(FinishResult.Ok, engine.Settle(open, 40, now).Result); // charged where it was held: the ended window is not touched
        Assert.Contains(log.Records, r => r.Record.Kind == DeltaKind.LeaseReport && r.Record.Closing);
    }

    [Fact]
    public async Task ALeasedWindow_IsKeptByTheSnapshotAndTheLog_AcrossARestart()
    {
        using var directory = new TempDirectory();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(now));
        var persistence = new PersistenceOptions
        {
            DataDir = directory.Path,
            CheckpointInterval = TimeSpan.FromHours(1),
            TickInterval = TimeSpan.FromMinutes(1),
            Engine = options,
        };
        string before;
        await using (var first = PersistentEngine.Open(persistence, time, leases: authority.ForNode(7)))
        {
            QuotaEngine e = first.Engine;
            int key = e.CreateToken(new TokenSpec { UserId = e.CreateUser(10_000).Id, RemainQuotaUnits = 10_000, Policies = [Policy(500, PeriodMode.Daily)] }, now).Id;
            e.Settle((await e.ReserveAsync(key, new ReserveRequest(20), now)).Id, 12, now);
            await e.ReportLeasesAsync(now);
            await first.CheckpointAsync();                                       // in the snapshot
            Assert.True((await e.ReserveAsync(key, new ReserveRequest(200), now)).IsOk); // and after it, in the log
            before = Words(e, key);
        }

        await using var second = PersistentEngine.Open(persistence, time, leases: authority.ForNode(7));
        Assert.Equal(before, Words(second.Engine, 1));
        Assert.True(second.Engine.FindKey(1)!.Slots![0]!.Cell.IsLeased);
    }

    [Fact]
    public async Task ADataDirWithLeasedWindows_OpenedWithoutLeasedWindows_IsRefused()
    {
        using var directory = new TempDirectory();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(now));
        var persistence = new PersistenceOptions { DataDir = directory.Path, CheckpointInterval = TimeSpan.FromHours(1), TickInterval = TimeSpan.FromMinutes(1), Engine = options };
        await using (var first = PersistentEngine.Open(persistence, time, leases: authority.ForNode(7)))
        {
            QuotaEngine e = first.Engine;
            int key = e.CreateToken(new TokenSpec { UserId = e.CreateUser(10_000).Id, RemainQuotaUnits = 10_000, Policies = [Policy(500, PeriodMode.Daily)] }, now).Id;
            Assert.True((await e.ReserveAsync(key, new ReserveRequest(20), now)).IsOk);
        }

        var error = Assert.Throws<InvalidOperationException>(() => PersistentEngine.Open(persistence with { Engine = options with { LeasedWindows = false } }, time));
        Assert.Contains("LeasedWindows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALeaseRecord_OnAWindowTheLogDidNotStartLeased_IsCorrupt()
    {
        var log = new RecordingSink();
        var local = new QuotaEngine(options with { LeasedWindows = false }, log);
        int key = local.CreateToken(new TokenSpec { UserId = local.CreateUser(10_000).Id, RemainQuotaUnits = 10_000, Policies = [Policy(500, PeriodMode.Daily)] }, now).Id;
        var replayed = new QuotaEngine(options);
        foreach ((DeltaRecord record, byte[]? payload) in log.Records)
        {
            replayed.Apply(record, payload);
        }

        var grant = DeltaRecord.LeaseGrant(key, replayed.FindKey(key)!.User.UserId, 0, replayed.FindKey(key)!.Slots![0]!.Cell.Generation, 100, now);
        Assert.Throws<InvalidDataException>(() => replayed.Apply(grant, null));
    }

    [Fact]
    public void ALeaseAuthority_WithoutLeasedWindows_IsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new QuotaEngine(new EngineOptions(), leases: authority.ForNode(1)));
        Assert.Contains("LeasedWindows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reserve_AgainstALiveLease_AllocatesNothing()
    {
        Assert.True(Completed(engine.ReserveAsync(token, new ReserveRequest(1), now)).IsOk); // the first one asks: a lease of 5
        long grants = authority.GrantCalls;
        var rounds = new List<long>();
        for (int round = 0; round < 10 && (rounds.Count == 0 || rounds[^1] != 0); round++)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20_000; i++)
            {
                // Charged nothing, so the lease stays live: every reserve is admitted from it, none asks the authority.
                ReserveOutcome outcome = Completed(engine.ReserveAsync(token, new ReserveRequest(1), now));
                Assert.True(outcome.IsOk, "the live lease refused");
                engine.Settle(outcome.Id, 0, now);
                ReserveOutcome held = engine.Reserve(token, 1, now);
                Assert.True(held.IsOk, "the live lease refused");
                engine.Refund(held.Id, now);
            }

            rounds.Add(GC.GetAllocatedBytesForCurrentThread() - allocated);
        }

        Assert.Equal(grants, authority.GrantCalls);
        Assert.True(rounds[^1] == 0, $"bytes per round: {string.Join(", ", rounds)}");
    }

    /// <summary>The outcome of an async reserve that completed at once (from the lease, or an in-memory authority's answer).</summary>
    private static ReserveOutcome Completed(ValueTask<ReserveOutcome> reserve) =>
        reserve.IsCompletedSuccessfully ? reserve.Result : throw new InvalidOperationException("the reserve did not complete synchronously");

    private static string Words(QuotaEngine e, int key)
    {
        WindowCell cell = e.FindKey(key)!.Slots![0]!.Cell;
        return $"{EngineState.Describe(e, T0)} headroom {cell.Headroom} leased {cell.Leased} reported {cell.Reported} used {cell.Used}";
    }
}
