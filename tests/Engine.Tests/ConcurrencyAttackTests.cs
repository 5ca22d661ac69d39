using System.Collections.Concurrent;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// One key under attack from real threads: four workers reserve and then settle or refund ids picked from a shared
/// pool (so several threads race on the same id), while an admin thread moves time, expires, rolls, resets and
/// updates the key's budget and policies. Every id must end exactly once, and the books must balance.
/// </summary>
public sealed class ConcurrencyAttackTests
{
    private const int Workers = 4;
    private const int OpsPerWorker = 4_000;
    private const long UserQuota = 1L << 30;

    [Fact]
    public void SharedIds_RacedBySettleAndRefund_EndExactlyOnce_WhileTheKeyIsUpdatedAndReset()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 4, UsersMax = 2, ReservationsMax = 1 << 16 });
        int user = t.User(UserQuota);
        int token = t.Token(user, 1L << 30,
            Policy(50_000, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 10),
            Policy(80_000, PeriodMode.Custom, BoundaryMode.Graceful, customMinutes: 10));
        long now = t.NowMs;
        var pool = new ReservationId[Workers * OpsPerWorker];
        int filled = 0;
        var wins = new ConcurrentDictionary<ReservationId, int>();
        var settledAt = new ConcurrentDictionary<ReservationId, long>();
        using var stop = new CancellationTokenSource();

        Thread[] workers = Enumerable.Range(0, Workers).Select(w => new Thread(() =>
        {
            var random = new Random(w);
            for (int i = 0; i < OpsPerWorker; i++)
            {
                long at = Volatile.Read(ref now);
                ReserveOutcome reserved = t.Engine.Reserve(token, new ReserveRequest(random.NextInt64(1, 200)), at);
                if (reserved.IsOk)
                {
                    pool[Interlocked.Increment(ref filled) - 1] = reserved.Id;
                }

                int count = Volatile.Read(ref filled);
                if (count == 0)
                {
                    continue;
                }

                // Recent ids are the contested ones: every worker aims at the same few.
                ReservationId id = pool[Math.Max(0, count - 1 - random.Next(Math.Min(count, 8)))];
                if (id == default)
                {
                    continue; // the slot was claimed but its id not yet written
                }

                FinishOutcome finished = random.Next(2) == 0 ? t.Engine.Settle(id, random.NextInt64(0, 300), at) : t.Engine.Refund(id, at);
                if (finished.Result == FinishResult.Ok && !finished.Replayed)
                {
                    wins.AddOrUpdate(id, 1, (_, n) => n + 1);
                    settledAt[id] = finished.ChargedUnits;
                }
            }
        })).ToArray();

        var admin = new Thread(() =>
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                long at = Interlocked.Add(ref now, random.NextInt64(1, 60_000));
                t.Engine.RollDueWindows(at);
                t.Engine.ExpireDue(at);
                switch (random.Next(4))
                {
                    case 0:
                        t.Engine.ResetPolicies(token, -1, at);
                        break;
                    case 1:
                        t.Engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = random.NextInt64(0, 1L << 20) }, at);
                        break;
                    case 2:
                        t.Engine.UpdateToken(token, new TokenUpdate
                        {
                            Policies = [Policy(random.NextInt64(1, 60_000), PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 10), Policy(80_000, PeriodMode.Custom, BoundaryMode.Graceful, customMinutes: 10)],
                        }, at);
                        break;
                    default:
                        break;
                }
            }
        });

        foreach (Thread thread in workers.Append(admin))
        {
            thread.Start();
        }

        foreach (Thread worker in workers)
        {
            Assert.True(worker.Join(TimeSpan.FromMinutes(2)), "a worker did not finish");
        }

        stop.Cancel();
        Assert.True(admin.Join(TimeSpan.FromMinutes(1)), "the admin thread did not finish");

        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.NotEmpty(wins);
        Assert.All(wins, pair => Assert.Equal(1, pair.Value));

        long charged = 0;
        foreach (ReservationId id in pool.Take(filled))
        {
            FinishOutcome last = t.Engine.Refund(id, now);
            Assert.NotEqual(FinishResult.NotFound, last.Result);
            long mine = last.Result is FinishResult.AlreadySettled or FinishResult.AlreadyExpired ? last.ChargedUnits : 0;
            if (last.Result == FinishResult.AlreadySettled && settledAt.TryGetValue(id, out long won))
            {
                Assert.Equal(won, mine); // the winner's charge is the one that stands
            }

            charged += mine;
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
        UserView view = t.Engine.ReadUser(user)!;
        Assert.Equal(0, view.ReservedQuotaUnits);
        Assert.Equal(charged, view.UsedQuotaUnits);
        Assert.Equal(UserQuota - charged, view.QuotaUnits);
        Assert.Equal(0, t.Engine.ReadToken(token, now)!.ReservedQuotaUnits);
    }

    /// <summary>
    /// The relay keeps a reservation alive (KeepAlive owns its record for a moment) while its request may settle or
    /// refund it and the expirer sweeps: a finisher never loses to a keep-alive (it waits the moment out; only an expiry
    /// beats it), a keep-alive never revives a finished record, and every reservation ends exactly once.
    /// </summary>
    [Fact]
    public void KeepAlives_RacingSettlesRefundsAndTheExpirer_NeverReviveOrLoseAReservation()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 4, UsersMax = 2, ReservationsMax = 1 << 16, ReservationTtl = TimeSpan.FromSeconds(1) });
        int user = t.User(UserQuota);
        int token = t.Token(user, 1L << 30);
        long now = t.NowMs;
        const int Count = 6_000;
        var ids = new ReservationId[Count];
        for (int i = 0; i < Count; i++)
        {
            ids[i] = t.Engine.Reserve(token, new ReserveRequest(10), now).Id;
        }

        var finishedBy = new int[Count]; // 1 settled, 2 refunded by a worker; 0: expired or still open
        int revived = 0;
        using var stop = new CancellationTokenSource();
        var keeper = new Thread(() =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                int i = random.Next(Count);
                bool finishedBefore = Volatile.Read(ref finishedBy[i]) != 0; // read first: that finish happened before this call
                if (t.Engine.KeepAlive(ids[i], Volatile.Read(ref now)) == KeepAliveResult.Ok && finishedBefore)
                {
                    Interlocked.Increment(ref revived);
                }
            }
        });
        var expirer = new Thread(() =>
        {
            var random = new Random(8);
            while (!stop.IsCancellationRequested)
            {
                t.Engine.ExpireDue(Interlocked.Add(ref now, random.Next(0, 50)));
            }
        });
        keeper.Start();
        expirer.Start();
        Parallel.For(0, 2, w =>
        {
            for (int i = w; i < Count; i += 2)
            {
                long at = Volatile.Read(ref now);
                FinishOutcome outcome = i % 3 == 0 ? t.Engine.Refund(ids[i], at) : t.Engine.Settle(ids[i], 7, at);
                if (outcome.Result == FinishResult.Ok)
                {
                    Volatile.Write(ref finishedBy[i], i % 3 == 0 ? 2 : 1);
                }
                else
                {
                    Assert.Equal(FinishResult.AlreadyExpired, outcome.Result); // the only way a finisher may lose
                }
            }
        });
        stop.Cancel();
        keeper.Join();
        expirer.Join();

        Assert.Equal(0, revived);
        long charged = 0;
        for (int i = 0; i < Count; i++)
        {
            FinishOutcome last = t.Engine.Refund(ids[i], now); // replies from the record how it ended (a refund: replayed)
            Assert.Equal(finishedBy[i] switch { 1 => FinishResult.AlreadySettled, 2 => FinishResult.Ok, _ => FinishResult.AlreadyExpired }, last.Result);
            Assert.True(last.Result != FinishResult.Ok || last.Replayed, $"reservation {i} was open again after its refund");
            charged += last.ChargedUnits;
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(charged, t.Engine.ReadUser(user)!.UsedQuotaUnits);
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
    }
}
