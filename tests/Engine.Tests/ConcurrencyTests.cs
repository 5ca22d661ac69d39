using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// Real threads on a few hot keys: reserve / settle (never above the estimate) / refund / abandon, while another
/// thread moves time across 10-minute windows, rolls, expires and manually resets. A monitor thread checks the
/// admission words continuously; at the end the auditor must balance every account and every charge must be
/// accounted for exactly once.
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Workers = 4;
    private const int OpsPerWorker = 200_000;
    private const long MaxAmount = 100;

    [Fact]
    public void HotKeys_UnderRealThreads_NeverOverAdmit_AndConserveEveryUnit()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 20 });
        int rich = t.User(1L << 40);
        int poor = t.User(200_000);
        int[] tokens =
        [
            t.Token(rich, 1L << 40, Policy(20_000, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 10)),
            t.Token(rich, 1L << 40, Policy(20_000, PeriodMode.Custom, BoundaryMode.Graceful, ExhaustedAction.DisableToken, customMinutes: 10)),
            t.Token(rich, 1L << 40, Policy(5_000, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 10), Policy(50_000, PeriodMode.Daily)),
            t.Token(poor, 1L << 40, Policy(1L << 40, PeriodMode.Daily)),
            t.Token(rich, 1L << 40,
                Policy(30_000, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 1) with { Metric = PolicyMetric.Tokens },
                Policy(400, PeriodMode.Custom, BoundaryMode.Graceful, ExhaustedAction.DisableToken, customMinutes: 1) with { Metric = PolicyMetric.Requests, Models = ["gpt-4*"] },
                Policy(8_000, PeriodMode.Custom, BoundaryMode.Strict, customMinutes: 10) with { Models = ["claude-*"] }),
        ];
        string?[] models = ["gpt-4o", "claude-3", null];
        long now = t.NowMs;
        var ids = new List<ReservationId>[Workers];
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        Thread[] workers = Enumerable.Range(0, Workers).Select(w => new Thread(() =>
        {
            var random = new Random(w);
            var mine = ids[w] = new List<ReservationId>(OpsPerWorker);
            var open = new List<(ReservationId Id, long Amount, long Tokens)>();
            for (int i = 0; i < OpsPerWorker; i++)
            {
                long at = Volatile.Read(ref now);
                long amount = random.NextInt64(1, MaxAmount + 1);
                var request = new ReserveRequest(amount, Tokens: random.NextInt64(0, MaxAmount + 1), Model: models[random.Next(models.Length)]);
                ReserveOutcome outcome = t.Engine.Reserve(tokens[random.Next(tokens.Length)], request, at);
                if (outcome.IsOk)
                {
                    mine.Add(outcome.Id);
                    open.Add((outcome.Id, amount, request.Tokens));
                }

                if (open.Count > 0 && random.Next(4) != 0)
                {
                    int pick = random.Next(open.Count);
                    (ReservationId id, long estimate, long tokens) = open[pick];
                    open.RemoveAt(pick);
                    _ = random.Next(3) == 0 ? t.Engine.Refund(id, at) : t.Engine.Settle(id, random.NextInt64(0, estimate + 1), random.NextInt64(0, tokens + 1), at);
                }

                if (open.Count > 64)
                {
                    open.RemoveAt(0); // abandoned: left for expiry
                }
            }
        })).ToArray();

        var clock = new Thread(() =>
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                long at = Interlocked.Add(ref now, random.NextInt64(1, 40_000));
                t.Engine.RollDueWindows(at);
                t.Engine.ExpireDue(at);
                if (random.Next(50) == 0)
                {
                    t.Engine.ResetPolicies(tokens[random.Next(tokens.Length)], -1, at);
                }
            }
        });

        var monitor = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                for (int i = 0; i < tokens.Length; i++)
                {
                    KeyState key = t.Engine.FindKey(tokens[i])!;
                    foreach (PolicySlot slot in key.Slots!.OfType<PolicySlot>())
                    {
                        long headroom = slot.Cell.Headroom;
                        long floor = slot.Config.Boundary == BoundaryMode.Strict ? 0 : 1 - MaxAmount;
                        if (headroom < floor)
                        {
                            failures.Enqueue($"token {tokens[i]}: headroom {headroom} < {floor}");
                        }
                    }

                    if (key.User.Wallet.Available < 0)
                    {
                        failures.Enqueue($"wallet of user {key.User.UserId} available {key.User.Wallet.Available} < 0");
                    }
                }
            }
        });

        foreach (Thread thread in workers.Append(clock).Append(monitor))
        {
            thread.Start();
        }

        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        stop.Cancel();
        clock.Join();
        monitor.Join();

        Assert.Empty(failures);
        Assert.Empty(ConservationAudit.Check(t.Engine));

        // Every reservation ended exactly once: refund what is still open, then add up what each one charged.
        long charged = 0;
        foreach (ReservationId id in ids.SelectMany(x => x))
        {
            FinishOutcome last = t.Engine.Refund(id, now);
            Assert.NotEqual(FinishResult.NotFound, last.Result);
            charged += last.Result is FinishResult.AlreadySettled or FinishResult.AlreadyExpired ? last.ChargedUnits : 0;
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
        UserView richView = t.Engine.ReadUser(rich)!, poorView = t.Engine.ReadUser(poor)!;
        Assert.Equal(0, richView.ReservedQuotaUnits + poorView.ReservedQuotaUnits);
        Assert.Equal(charged, richView.UsedQuotaUnits + poorView.UsedQuotaUnits);
        Assert.Equal((1L << 40) + 200_000 - charged, richView.QuotaUnits + poorView.QuotaUnits);
        Assert.True(poorView.QuotaUnits >= 0);
    }
}
