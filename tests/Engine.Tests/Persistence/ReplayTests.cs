using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>Replaying the delta records in append order rebuilds exactly the live state (docs/design.md "Invariants", 5).</summary>
public sealed class ReplayTests
{
    private static readonly EngineOptions Options = new() { KeysMax = 64, UsersMax = 8, ReservationsMax = 1 << 16 };

    [Fact]
    public void Replay_OfALifecycle_RebuildsTheSameState()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        long now = T0;
        int user = engine.CreateUser(10_000).Id;
        int token = engine.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 1000,
            Policies = [Policy(100, action: ExhaustedAction.DisableToken), Policy(500, PeriodMode.Daily, BoundaryMode.Strict, timeZone: "Europe/Berlin")],
        }, now).Id;
        ReserveOutcome open = engine.Reserve(token, 30, now);
        engine.Settle(engine.Reserve(token, 60, now).Id, 120, now); // exhausts and pauses
        engine.Refund(engine.Reserve(engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 5 }, now).Id, 5, now).Id, now);
        engine.ResetPolicies(token, 0, now);
        engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = 700, Policies = [Policy(50), Policy(500, PeriodMode.Daily) with { Enabled = false }] }, now);
        now += 6 * 3_600_000;
        engine.RollDueWindows(now);
        engine.ExpireDue(now + 3_600_000);
        engine.CreditUser(user, -100);
        Assert.True(open.IsOk);

        QuotaEngine replayed = sink.Replay(Options);

        Assert.Equal(EngineState.Describe(engine, now), EngineState.Describe(replayed, now));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Replay_AfterConcurrentLoad_RebuildsTheSameState(int seed)
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        long now = T0;
        int user = engine.CreateUser(1L << 40).Id;
        int[] tokens = Enumerable.Range(0, 3).Select(i => engine.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 1L << 40,
            Policies = [Policy(5_000, PeriodMode.Custom, i == 0 ? BoundaryMode.Strict : BoundaryMode.Graceful, ExhaustedAction.DisableToken, customMinutes: 10)],
        }, now).Id).ToArray();

        using var stop = new CancellationTokenSource();
        var clock = new Thread(() =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                long at = Interlocked.Add(ref now, random.Next(1, 20_000));
                engine.RollDueWindows(at);
                engine.ExpireDue(at);
                if (random.Next(20) == 0)
                {
                    engine.ResetPolicies(tokens[random.Next(3)], -1, at);
                }
            }
        });
        clock.Start();
        Parallel.For(0, 4, worker =>
        {
            var random = new Random((seed * 10) + worker);
            for (int i = 0; i < 20_000; i++)
            {
                long at = Volatile.Read(ref now);
                ReserveOutcome r = engine.Reserve(tokens[random.Next(3)], random.Next(1, 200), at);
                if (r.IsOk && random.Next(5) != 0)
                {
                    _ = random.Next(3) == 0 ? engine.Refund(r.Id, at) : engine.Settle(r.Id, random.Next(0, 300), at);
                }
            }
        });
        stop.Cancel();
        clock.Join();

        QuotaEngine replayed = sink.Replay(Options);

        Assert.Equal(EngineState.Describe(engine, now), EngineState.Describe(replayed, now));
    }
}
