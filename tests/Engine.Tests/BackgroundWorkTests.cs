using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// The background rollover and the expiry sweep cost what is due, not what exists (docs/design.md "Resets" and "Settle,
/// refund, expire"): a tick over many keys and a large reservation table looks at the due windows and the groups of the
/// table that hold due reservations, and still rolls and expires every one of them on time.
/// </summary>
public sealed class BackgroundWorkTests
{
    private const int IdleKeys = 5_000;

    /// <summary>A one-minute window of one request (windows this short count requests or tokens).</summary>
    private static QuotaPolicySpec OneRequestAMinute(ExhaustedAction action = ExhaustedAction.RejectOnly, int minutes = 1, long anchorMs = 0) =>
        Policy(1, PeriodMode.Custom, customMinutes: minutes, action: action, anchorMs: anchorMs) with { Metric = PolicyMetric.Requests };

    [Fact]
    public void Rollover_VisitsTheDueWindows_NotEveryKey()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = IdleKeys + 16, UsersMax = 16, ReservationsMax = 4096 });
        int user = t.User();
        for (int i = 0; i < IdleKeys; i++)
        {
            t.Token(user, 1000, Policy(100, PeriodMode.Monthly)); // not due for weeks
        }

        int due = t.Token(user, 1000, OneRequestAMinute(ExhaustedAction.DisableToken));
        t.Settle(t.ReserveOk(due, 10), 10); // pauses the key until its minute ends
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(due, 1).Result);
        long visitsBefore = t.Engine.RolloverVisits;

        t.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, t.Engine.RollDueWindows(t.NowMs - 1)); // nothing ends before the minute
        Assert.Equal(1, t.Engine.RollDueWindows(t.NowMs));
        Assert.False(t.Read(due).Paused); // restored by the background rollover, without a request
        t.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, t.Engine.RollDueWindows(t.NowMs));

        Assert.InRange(t.Engine.RolloverVisits - visitsBefore, 1, 4); // the due window (and stale entries of it), never the 5,000 idle keys
    }

    [Fact]
    public void Rollover_SkipsAWindowALazyRolloverOrASaveAlreadyMoved_AndRollsItsSuccessor()
    {
        var t = new TestEngine();
        int user = t.User();
        int token = t.Token(user, 1000, OneRequestAMinute());
        t.Advance(TimeSpan.FromMinutes(1));
        t.ReserveOk(token, 1); // rolls lazily: the schedule's entry for the old end is stale now
        Assert.Equal(0, t.Engine.RollDueWindows(t.NowMs));
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [OneRequestAMinute(minutes: 2, anchorMs: t.NowMs)] }, t.NowMs);
        t.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, t.Engine.RollDueWindows(t.NowMs)); // the old one-minute end is stale: the save moved the window
        t.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, t.Engine.RollDueWindows(t.NowMs));
        Assert.Equal(0, t.Policy0(token).UsedQuotaUnits);
    }

    [Fact]
    public void ExpirySweep_LooksIntoTheGroupsWithDueReservations_Only()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1 << 16 });
        int token = t.Token(t.User(), 1_000_000);
        ReservationId id = t.ReserveOk(t.Token(t.User(), 1_000_000), 5);
        Assert.Equal(0, t.Engine.ExpireDue(t.NowMs)); // the first sweep learns every group's earliest expiry
        long opened = t.Engine.ExpiryGroupsOpened;

        for (int second = 1; second <= 30; second++)
        {
            t.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(0, t.Engine.ExpireDue(t.NowMs));
        }

        Assert.Equal(opened, t.Engine.ExpiryGroupsOpened); // 30 idle ticks over 1,024 groups looked into none
        t.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, t.Engine.ExpireDue(t.NowMs));
        Assert.Equal(opened + 1, t.Engine.ExpiryGroupsOpened);
        Assert.Equal(FinishResult.AlreadyExpired, t.Settle(id, 1).Result);
        Assert.Equal(ReserveResult.Ok, t.Reserve(token, 1).Result);
    }

    [Fact]
    public void ExpirySweep_FindsAReservationMadeAfterItsGroupWasSwept_AndHonoursKeepAlive()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 1_000_000);
        ReservationId first = t.ReserveOk(token, 5);
        t.Refund(first);
        Assert.Equal(0, t.Engine.ExpireDue(t.NowMs)); // the group now holds nothing open: its bound is "never"

        t.Advance(TimeSpan.FromSeconds(30));
        ReservationId late = t.ReserveOk(token, 5); // lowers the bound again
        ReservationId kept = t.ReserveOk(token, 5);
        t.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(KeepAliveResult.Ok, t.Engine.KeepAlive(kept, t.NowMs)); // kept until 19:30
        t.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, t.Engine.ExpireDue(t.NowMs)); // late, at 10:30
        Assert.Equal(FinishResult.AlreadyExpired, t.Settle(late, 1).Result);
        t.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(1, t.Engine.ExpireDue(t.NowMs)); // kept, at 19:30
        Assert.Equal(FinishResult.AlreadyExpired, t.Settle(kept, 1).Result);
    }

    [Fact]
    public async Task ExpirySweep_RacingReserves_LosesNoReservation()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1024 });
        int token = t.Token(t.User(1_000_000_000), 1_000_000_000);
        long now = t.NowMs;
        using var stop = new CancellationTokenSource();
        Task sweeper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                t.Engine.ExpireDue(Interlocked.Read(ref now) - 1); // nothing is due: the sweep only learns bounds, racing the reserves
            }
        });
        var reserved = new System.Collections.Concurrent.ConcurrentBag<ReservationId>();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                ReserveOutcome outcome = t.Engine.Reserve(token, 1, Interlocked.Add(ref now, 1));
                if (outcome.IsOk)
                {
                    reserved.Add(outcome.Id);
                    if (i % 2 == 0)
                    {
                        t.Engine.Refund(outcome.Id, now);
                    }
                }
            }
        })));
        await stop.CancelAsync();
        await sweeper;

        t.Engine.ExpireDue(now + (long)TimeSpan.FromDays(2).TotalMilliseconds);
        Assert.NotEmpty(reserved);
        foreach (ReservationId id in reserved)
        {
            // Every reservation ended: none was left open behind a group bound the sweep raised past it.
            Assert.True(t.Engine.TryReadReservation(id, out ReservationView view) is false || view.Status != ReservationStatus.Open, id.ToString());
        }
    }

    [Fact]
    public async Task AfterARestart_EveryRecoveredWindowIsScheduled()
    {
        using var directory = new TempDirectory();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(T0));
        var options = new PersistenceOptions
        {
            DataDir = directory.Path,
            CheckpointInterval = TimeSpan.FromHours(1),
            TickInterval = TimeSpan.FromMinutes(1),
            Engine = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1024 },
        };
        int token;
        await using (var first = PersistentEngine.Open(options, time))
        {
            int user = first.Engine.CreateUser(1_000).Id;
            token = first.Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1_000, Policies = [OneRequestAMinute(ExhaustedAction.DisableToken)] }, T0).Id;
            first.Engine.Settle(first.Engine.Reserve(token, 10, T0).Id, 10, T0); // one request: the minute is exhausted, the key paused
            await first.CloseWithoutCheckpointAsync(); // the window comes back by replay, which schedules nothing
        }

        await using var again = PersistentEngine.Open(options, time);
        Assert.True(again.Engine.ReadToken(token, T0)!.Paused);
        Assert.Equal(1, again.Engine.RollDueWindows(T0 + 60_000));
        Assert.False(again.Engine.ReadToken(token, T0 + 60_000)!.Paused);
    }
}
