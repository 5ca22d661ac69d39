using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests.Leases;

/// <summary>
/// The cluster guarantees (docs/design.md "Leases", invariants 1, 2 and 12) as properties of N engines sharing one
/// in-memory lease authority, driven by random steps: reserve on any node (the async door), settle at or below the
/// estimate, refund, report (with or without giving free leases back), and time passing across window ends.
/// </summary>
public sealed class LeaseProperties
{
    private const int Tests = 200;
    private const long AmountMax = 40;

    private enum Step
    {
        Reserve,
        Settle,
        Refund,
        Report,
        GiveBack,
        Advance,
    }

    private sealed record Op(Step Step, int Node, long A);

    private sealed record Run(int Nodes, long QuotaUnits, BoundaryMode Boundary, PolicyMetric Metric, int LeaseAhead, Op[] Ops)
    {
        public override string ToString() => $"{Nodes} nodes, quota {QuotaUnits} {Boundary} {Metric}, lease ahead {LeaseAhead}: {string.Join(", ", Ops.Select(o => $"{o.Step}@{o.Node}:{o.A}"))}";
    }

    private static Arbitrary<Run> Runs() =>
        (from nodes in Gen.Choose(1, 3)
         from quota in Gen.Elements(1L, 2L, 39L, 40L, 100L, 1000L)
         from boundary in Gen.Elements(BoundaryMode.Strict, BoundaryMode.Graceful)
         from metric in Gen.Elements(PolicyMetric.Quota, PolicyMetric.Requests)
         from ahead in Gen.Elements(0, 1, 4)
         from ops in (from step in Gen.Frequency(
                          (10, Gen.Constant(Step.Reserve)), (5, Gen.Constant(Step.Settle)), (2, Gen.Constant(Step.Refund)),
                          (2, Gen.Constant(Step.Report)), (1, Gen.Constant(Step.GiveBack)), (1, Gen.Constant(Step.Advance)))
                      from node in Gen.Choose(0, 2)
                      from a in Gen.Frequency((3, Gen.Elements(1L, AmountMax - 1, AmountMax)), (7, Gen.Choose(1, (int)AmountMax).Select(x => (long)x)))
                      select new Op(step, node, a)).ArrayOf()
         select new Run(nodes, quota, boundary, metric, ahead, ops)).ToArbitrary();

    /// <summary>
    /// Invariants 1 and 12 across nodes: a strict window never holds more than its quota over all nodes, a graceful one at
    /// most one request per node more; the authority's leases plus its reported usage stay within the same bounds.
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property NodesSharingAnAuthority_NeverOverAdmit() => Prop.ForAll(Runs(), run =>
    {
        var cluster = Execute(run, (cluster, bound) =>
        {
            Assert.True(cluster.UsedPlusReserved() <= bound, $"the window holds {cluster.UsedPlusReserved()} over all nodes > {bound}");
            cluster.AssertAuthorityWithin(bound);
        });
        return cluster is not null;
    });

    /// <summary>Invariant 2 with leases: after every node reported, the authority's books and each node's agree exactly.</summary>
    [Property(MaxTest = Tests)]
    public Property NodesSharingAnAuthority_ConserveEveryUnit() => Prop.ForAll(Runs(), run =>
    {
        LeasedCluster cluster = Execute(run, (_, _) => { });
        cluster.AssertConservedAfterReportsAsync().GetAwaiter().GetResult();
        return true;
    });

    /// <summary>
    /// One node with leases decides exactly as one engine without them: the same outcomes and the same numbers after every
    /// step (the authority holds the rest of the window, and a grant of 0 refuses as the window would).
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property OneLeasedNode_DecidesAsALocalEngine() => Prop.ForAll(Runs(), run =>
    {
        var leased = new LeasedCluster(1, PolicyOf(run), TestEngine.T0, run.LeaseAhead);
        var local = new TestEngine(TestEngine.T0);
        int localToken = local.Token(local.User(EngineLimits.BalanceMaxUnits), EngineLimits.BalanceMaxUnits, PolicyOf(run));
        var open = new List<(ReservationId Leased, ReservationId Local, long Amount)>();
        foreach (Op op in run.Ops)
        {
            switch (op.Step)
            {
                case Step.Reserve:
                    ReserveOutcome a = leased.Nodes[0].ReserveAsync(leased.Token, new ReserveRequest(op.A), leased.NowMs).AsTask().GetAwaiter().GetResult();
                    ReserveOutcome b = local.Engine.Reserve(localToken, new ReserveRequest(op.A), local.NowMs);
                    Assert.Equal((b.Result, b.PolicyIndex), (a.Result, a.PolicyIndex));
                    if (a.IsOk)
                    {
                        open.Add((a.Id, b.Id, op.A));
                    }

                    break;
                case Step.Settle or Step.Refund when open.Count > 0:
                    (ReservationId x, ReservationId y, long amount) = open[(int)(op.A % open.Count)];
                    open.Remove((x, y, amount));
                    long actual = op.Step == Step.Refund ? -1 : amount - (op.A % (amount + 1));
                    Assert.Equal(
                        actual < 0 ? local.Engine.Refund(y, local.NowMs) : local.Engine.Settle(y, actual, local.NowMs),
                        actual < 0 ? leased.Nodes[0].Refund(x, leased.NowMs) : leased.Nodes[0].Settle(x, actual, leased.NowMs));
                    break;
                case Step.Report or Step.GiveBack:
                    leased.Nodes[0].ReportLeasesAsync(leased.NowMs, op.Step == Step.GiveBack).AsTask().GetAwaiter().GetResult();
                    break;
                case Step.Advance:
                    leased.NowMs += AdvanceMs(op.A);
                    local.NowMs = leased.NowMs;
                    break;
            }

            PolicyView mine = leased.PolicyOn(0), theirs = local.Policy0(localToken);
            Assert.Equal((theirs.UsedQuotaUnits, theirs.ReservedQuotaUnits, theirs.PeriodStartMs, theirs.ExhaustedAtMs), (mine.UsedQuotaUnits, mine.ReservedQuotaUnits, mine.PeriodStartMs, mine.ExhaustedAtMs));
        }

        return true;
    });

    private static QuotaPolicySpec PolicyOf(Run run) =>
        TestEngine.Policy(run.QuotaUnits, PeriodMode.Custom, run.Boundary, customMinutes: 60) with { Metric = run.Metric };

    /// <summary>Small steps mostly, sometimes past the hour-long window's end.</summary>
    private static long AdvanceMs(long a) => a % 4 == 0 ? 3_600_000 : a * 60_000;

    /// <summary>Runs the steps on a cluster, checking <paramref name="check"/> with the window's bound after every step.</summary>
    private static LeasedCluster Execute(Run run, Action<LeasedCluster, long> check)
    {
        var cluster = new LeasedCluster(run.Nodes, PolicyOf(run), TestEngine.T0, run.LeaseAhead);
        long perRequestMax = run.Metric == PolicyMetric.Requests ? 1 : AmountMax;
        long bound = run.Boundary == BoundaryMode.Strict ? run.QuotaUnits : run.QuotaUnits + (run.Nodes * perRequestMax);
        var open = new List<(int Node, ReservationId Id, long Amount)>();
        foreach (Op op in run.Ops)
        {
            int node = op.Node % run.Nodes;
            QuotaEngine engine = cluster.Nodes[node];
            switch (op.Step)
            {
                case Step.Reserve:
                    ReserveOutcome outcome = engine.ReserveAsync(cluster.Token, new ReserveRequest(op.A), cluster.NowMs).AsTask().GetAwaiter().GetResult();
                    Assert.NotEqual(ReserveResult.LeaseShort, outcome.Result); // one thread: no other node takes a grant first
                    if (outcome.IsOk)
                    {
                        open.Add((node, outcome.Id, op.A));
                    }

                    break;
                case Step.Settle or Step.Refund when open.Count > 0:
                    (int at, ReservationId id, long amount) = open[(int)(op.A % open.Count)];
                    open.Remove((at, id, amount));
                    FinishOutcome finished = op.Step == Step.Refund
                        ? cluster.Nodes[at].Refund(id, cluster.NowMs)
                        : cluster.Nodes[at].Settle(id, amount - (op.A % (amount + 1)), cluster.NowMs); // never above the estimate
                    Assert.Equal(FinishResult.Ok, finished.Result);
                    break;
                case Step.Report or Step.GiveBack:
                    engine.ReportLeasesAsync(cluster.NowMs, op.Step == Step.GiveBack).AsTask().GetAwaiter().GetResult();
                    break;
                case Step.Advance:
                    cluster.NowMs += AdvanceMs(op.A);
                    break;
            }

            check(cluster, bound);
        }

        return cluster;
    }
}
