using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// Real threads (docs/design.md "Invariants", 10): workers reserve, settle and refund on one key while an admin thread
/// saves it over and over with other metrics, scopes, boundaries, quotas, budgets and enabled policies. The
/// deterministic cases are in ConfigurationRaceTests; this one lets the scheduler find interleavings. Afterwards every
/// reservation has ended once, every window's reserved is what its open reservations hold (none: all ended), and the log
/// replays to the live state.
/// </summary>
public sealed class ConfigurationAttackTests
{
    private const int Workers = 3;
    private const int OpsPerWorker = 6_000;

    private static readonly PolicyMetric[] Metrics = [PolicyMetric.Quota, PolicyMetric.Tokens, PolicyMetric.Requests];
    private static readonly string[][] Scopes = [[], ["gpt-4*"], ["claude-*"], ["gpt-4o", "claude-*"]];
    private static readonly string[] Models = ["gpt-4o", "claude-3", "o1"];

    [Fact]
    public void SavesChangingMetricScopeAndQuota_RacingReserves_KeepTheBooksExact()
    {
        var sink = new RecordingSink();
        var t = new TestEngine(options: new EngineOptions { KeysMax = 4, UsersMax = 2, ReservationsMax = 1 << 16 }, deltas: sink);
        int user = t.User(1L << 40);
        int token = t.Token(user, 1L << 40, RandomPolicies(new Random(0)));
        long now = t.NowMs;
        var ids = new List<ReservationId>[Workers];
        using var stop = new CancellationTokenSource();

        Thread[] workers = Enumerable.Range(0, Workers).Select(w => new Thread(() =>
        {
            var random = new Random(w + 1);
            var mine = ids[w] = [];
            for (int i = 0; i < OpsPerWorker; i++)
            {
                ReserveOutcome reserved = t.Engine.Reserve(token, new ReserveRequest(random.NextInt64(1, 50), random.NextInt64(0, 500), Models[random.Next(Models.Length)]), now);
                if (reserved.IsOk)
                {
                    mine.Add(reserved.Id);
                }

                if (mine.Count > 0 && random.Next(3) > 0)
                {
                    ReservationId id = mine[random.Next(mine.Count)];
                    _ = random.Next(2) == 0 ? t.Engine.Settle(id, random.NextInt64(0, 60), random.NextInt64(-1, 600), now) : t.Engine.Refund(id, now);
                }
            }
        })).ToArray();
        var admin = new Thread(() =>
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                var update = new TokenUpdate
                {
                    Policies = RandomPolicies(random),
                    RemainQuotaUnits = random.Next(4) == 0 ? random.NextInt64(0, 1L << 40) : null,
                    UnlimitedQuota = random.Next(8) == 0 ? random.Next(2) == 0 : null,
                };
                Assert.True(t.Engine.UpdateToken(token, update, now).IsOk);
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

        foreach (ReservationId id in ids.SelectMany(list => list))
        {
            t.Engine.Refund(id, now); // ends what is still open; a repeat of a finished one changes nothing
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
        Assert.All(t.Read(token).Policies, policy => Assert.Equal(0, policy.ReservedQuotaUnits));
        Assert.All(t.Engine.FindKey(token)!.Slots!.OfType<Engine.Accounts.PolicySlot>(), slot => Assert.Equal(0, slot.Cell.Reserved));
        Assert.Equal(EngineState.Describe(t.Engine, now), EngineState.Describe(sink.Replay(t.Options), now));
    }

    private static QuotaPolicySpec[] RandomPolicies(Random random) =>
        Enumerable.Range(0, random.Next(1, 5)).Select(_ => Policy(
            random.NextInt64(100, 5_000), PeriodMode.Custom, (BoundaryMode)random.Next(2), customMinutes: 60) with
        {
            Metric = Metrics[random.Next(Metrics.Length)],
            Models = Scopes[random.Next(Scopes.Length)],
            Enabled = random.Next(5) > 0,
        }).ToArray();
}
