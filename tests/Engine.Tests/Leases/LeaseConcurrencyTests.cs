using Quota.Engine.Diagnostics;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests.Leases;

/// <summary>
/// Several engines on real threads, one hot key, one shared in-memory authority: each thread reserves through the async
/// door, settles at or below the estimate or refunds, and reports now and then. At the end the window never held more
/// than its quota over all nodes (strict), and after the last reports every unit is where both sides say it is.
/// </summary>
public sealed class LeaseConcurrencyTests
{
    private const int Nodes = 3;
    private const int RequestsPerNode = 40_000;
    private const long Quota = 300_000;

    [Theory]
    [InlineData(BoundaryMode.Strict)]
    [InlineData(BoundaryMode.Graceful)]
    public async Task NodesOnThreads_NeverOverAdmit_AndConserveEveryUnit(BoundaryMode boundary)
    {
        var cluster = new LeasedCluster(Nodes, TestEngine.Policy(Quota, PeriodMode.Daily, boundary), TestEngine.T0, leaseAheadRequests: 8);
        long[] maxSeen = new long[Nodes];
        var threads = new Thread[Nodes];
        using var start = new Barrier(Nodes);
        for (int node = 0; node < Nodes; node++)
        {
            int mine = node;
            threads[node] = new Thread(() =>
            {
                start.SignalAndWait();
                Work(cluster, mine, maxSeen);
            });
            threads[node].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        long bound = boundary == BoundaryMode.Strict ? Quota : Quota + (Nodes * 100);
        Assert.True(cluster.UsedPlusReserved() <= bound, $"{cluster.UsedPlusReserved()} > {bound}");
        Assert.True(maxSeen.Max() <= bound, $"a node saw {maxSeen.Max()} held over all nodes > {bound}");
        await cluster.AssertConservedAfterReportsAsync();
        cluster.AssertAuthorityWithin(bound);
        long used = cluster.Authority.Books().Single().UsedUnits;
        Assert.True(used >= Quota - (Nodes * 100 * 9), $"the nodes used {used} of {Quota}: leases were lost"); // at most each node's last lease ahead stays unused
    }

    private static void Work(LeasedCluster cluster, int node, long[] maxSeen)
    {
        QuotaEngine engine = cluster.Nodes[node];
        var random = new Random(node);
        var open = new Queue<(ReservationId Id, long Amount)>();
        for (int i = 0; i < RequestsPerNode; i++)
        {
            long amount = random.Next(1, 101);
            ReserveOutcome outcome = engine.ReserveAsync(cluster.Token, new ReserveRequest(amount), cluster.NowMs).AsTask().GetAwaiter().GetResult();
            if (outcome.IsOk)
            {
                open.Enqueue((outcome.Id, amount));
            }
            else
            {
                Assert.True(outcome.Result is ReserveResult.PolicyExhausted or ReserveResult.PolicyEstimateTooLarge or ReserveResult.LeaseShort, outcome.Result.ToString());
            }

            while (open.Count > random.Next(0, 4))
            {
                (ReservationId id, long held) = open.Dequeue();
                FinishOutcome finished = random.Next(5) == 0 ? engine.Refund(id, cluster.NowMs) : engine.Settle(id, random.Next(0, (int)held + 1), cluster.NowMs);
                Assert.Equal(FinishResult.Ok, finished.Result);
            }

            if (i % 997 == 0)
            {
                engine.ReportLeasesAsync(cluster.NowMs, giveBackFree: i % 3 == 0).AsTask().GetAwaiter().GetResult();
                maxSeen[node] = Math.Max(maxSeen[node], HeldOverAllNodes(cluster));
            }
        }

        while (open.TryDequeue(out (ReservationId Id, long Amount) last))
        {
            Assert.Equal(FinishResult.Ok, engine.Settle(last.Id, last.Amount, cluster.NowMs).Result);
        }

        Assert.Empty(ConservationAudit.Check(engine));
    }

    /// <summary>Used + reserved over all nodes, read while the others run (a moment's view; each word is read once).</summary>
    private static long HeldOverAllNodes(LeasedCluster cluster)
    {
        long total = 0;
        foreach (QuotaEngine node in cluster.Nodes)
        {
            PolicyView view = node.ReadToken(cluster.Token, cluster.NowMs)!.Policies[0];
            total += view.UsedQuotaUnits + view.ReservedQuotaUnits;
        }

        return total;
    }
}
