using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// A reserve run inside a save, just before or just after the save publishes the key's new configuration
/// (docs/design.md "Invariants", configuration publication): room the save takes away is gone before the publish, and
/// room it gives appears only after it, so the reserve gets the old configuration's answer before and the new one's
/// after (at worst a refusal the new would not give, while the save finishes), never an admission by a mix.
/// </summary>
public sealed class SavePublicationOrderTests
{
    private readonly TestEngine t = new();

    private ReserveOutcome ReserveDuring(RaceHooks.Point point, int token, long amount, TokenUpdate update)
    {
        ReserveOutcome outcome = default;
        using (RaceHook.At(point, () => outcome = t.Engine.Reserve(token, amount, t.NowMs)))
        {
            Assert.True(t.Engine.UpdateToken(token, update, t.NowMs).IsOk);
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
        return outcome;
    }

    [Fact]
    public void ARaisedQuotaIsNotSeenWithTheOldBoundary()
    {
        int token = t.Token(t.User(), 1_000_000, Policy(100));
        t.Settle(t.ReserveOk(token, 100), 100); // graceful, used up: room 0

        ReserveOutcome before = ReserveDuring(RaceHooks.Point.SavePublishing, token, 150, new TokenUpdate { Policies = [Policy(200, boundary: BoundaryMode.Strict)] });

        Assert.Equal(ReserveResult.PolicyExhausted, before.Result); // the old answer, not an admission against the raised quota
    }

    [Fact]
    public void ALoweredQuotaIsSeenWithTheNewBoundary()
    {
        int token = t.Token(t.User(), 1_000_000, Policy(200));
        t.Settle(t.ReserveOk(token, 100), 100); // graceful, room 100

        ReserveOutcome after = ReserveDuring(RaceHooks.Point.SavePublished, token, 50, new TokenUpdate { Policies = [Policy(100, boundary: BoundaryMode.Strict)] });

        Assert.Equal(ReserveResult.PolicyExhausted, after.Result); // the new answer: strict, room 0
    }

    [Fact]
    public void ARaisedBudgetIsNotSeenWithTheOldPolicies()
    {
        int token = t.Token(t.User(1_000_000), remain: 10);

        ReserveOutcome before = ReserveDuring(RaceHooks.Point.SavePublishing, token, 500,
            new TokenUpdate { RemainQuotaUnits = 1_000, Policies = [Policy(5, boundary: BoundaryMode.Strict)] });

        Assert.Equal(ReserveResult.InsufficientKeyQuota, before.Result);
    }

    [Fact]
    public void ALoweredBudgetIsSeenWithTheNewPolicies()
    {
        int token = t.Token(t.User(1_000_000), 1_000, Policy(5, boundary: BoundaryMode.Strict));

        ReserveOutcome after = ReserveDuring(RaceHooks.Point.SavePublished, token, 500, new TokenUpdate { RemainQuotaUnits = 10, Policies = [] });

        Assert.Equal(ReserveResult.InsufficientKeyQuota, after.Result);
    }
}
