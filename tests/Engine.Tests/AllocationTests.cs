using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>The hot path allocates nothing (STYLE.md): reserve, settle and refund, with a wallet, a budget and policies.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void ReserveSettleRefund_AllocateZeroBytes()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(1L << 55), 1L << 50, Policy(1L << 45), Policy(1L << 45, PeriodMode.Daily, BoundaryMode.Strict));
        QuotaEngine engine = t.Engine;
        long now = t.NowMs;
        RunPairs(engine, token, now, 1000); // warm up: JIT, tiering, first-use statics

        long before = GC.GetAllocatedBytesForCurrentThread();
        RunPairs(engine, token, now, 20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static void RunPairs(QuotaEngine engine, int token, long now, int count)
    {
        for (int i = 0; i < count; i++)
        {
            ReserveOutcome settled = engine.Reserve(token, 60, now);
            ReserveOutcome refunded = engine.Reserve(token, 60, now);
            if (!settled.IsOk || !refunded.IsOk ||
                engine.Settle(settled.Id, 55, now).Result != FinishResult.Ok ||
                engine.Refund(refunded.Id, now).Result != FinishResult.Ok)
            {
                throw new InvalidOperationException("hot path refused a request");
            }
        }
    }
}
