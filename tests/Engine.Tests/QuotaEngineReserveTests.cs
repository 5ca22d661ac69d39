using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>Admission (docs/design.md "Admission"): check order, boundary modes, all-or-nothing.</summary>
public sealed class QuotaEngineReserveTests
{
    private readonly TestEngine t = new();

    [Fact]
    public void Reserve_ThenSettle_ChargesWalletKeyAndPolicy()
    {
        int user = t.User(10_000);
        int token = t.Token(user, 1000, Policy(100, boundary: BoundaryMode.Strict));

        ReservationId id = t.ReserveOk(token, 60);
        Assert.Equal(60, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(60, t.Read(token).ReservedQuotaUnits);
        Assert.Equal(60, t.Engine.ReadUser(user)!.ReservedQuotaUnits);

        Assert.Equal(new FinishOutcome(FinishResult.Ok, 60, false, false), t.Settle(id, 60));
        Assert.Equal(940, t.Read(token).RemainQuotaUnits);
        Assert.Equal(60, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(9_940, t.Engine.ReadUser(user)!.QuotaUnits);
    }

    [Fact]
    public void Reserve_WhenStrictEstimateDoesNotFit_RejectsWithoutSideEffects()
    {
        int token = t.Token(t.User(), 1000, Policy(100, boundary: BoundaryMode.Strict));
        t.Settle(t.ReserveOk(token, 70), 70);

        ReserveOutcome outcome = t.Reserve(token, 31); // 70 + 31 > 100
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, outcome.Result);
        Assert.Equal(0, outcome.PolicyIndex);
        Assert.Equal(70, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(930, t.Read(token).RemainQuotaUnits);
        Assert.Equal(0, t.Read(token).ReservedQuotaUnits);

        t.ReserveOk(token, 30); // filling exactly is allowed
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 1).Result);
    }

    [Fact]
    public void Reserve_StrictLargerThanTheWholeQuota_IsDistinguishedFromExhausted_AndNeverPauses()
    {
        // "does not fit" is its own result, not "exhausted".
        int token = t.Token(t.User(), 1000, Policy(50, boundary: BoundaryMode.Strict, action: ExhaustedAction.DisableToken));
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, t.Reserve(token, 60).Result);
        TokenView view = t.Read(token);
        Assert.Equal(TokenStatus.Enabled, view.Status);
        Assert.Equal(1000, view.RemainQuotaUnits);
        Assert.Equal(0, view.Policies[0].UsedQuotaUnits);
        Assert.Equal(0, view.Policies[0].ExhaustedAtMs);
        Assert.Equal(TokenStatus.None, view.Policies[0].ExhaustedTokenStatus);
        Assert.Empty(t.Audit.Events);
    }

    [Fact]
    public void Reserve_Graceful_AdmitsTheBoundaryRequest_ThenBlocks()
    {
        // used 90 of 100, an estimate of 60 is admitted and overshoots; the next one is refused.
        int user = t.User(10_000);
        int token = t.Token(user, 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 90), 90);

        ReservationId boundary = t.ReserveOk(token, 60);
        FinishOutcome settled = t.Settle(boundary, 60);
        Assert.True(settled.Exhausted);
        Assert.Equal(150, t.Policy0(token).UsedQuotaUnits);
        Assert.NotEqual(0, t.Policy0(token).ExhaustedAtMs);
        Assert.Equal(10_000 - 150, t.Engine.ReadUser(user)!.QuotaUnits);
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 1).Result);
    }

    [Fact]
    public void Reserve_Graceful_CountsInFlightReservations_SoOnlyOneRequestCrossesTheQuota()
    {
        // the reference admitted every parallel request while used < quota.
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 90), 90);
        t.ReserveOk(token, 60);
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 60).Result);
    }

    [Fact]
    public void Reserve_StrictAtTheBoundary_RejectsBeforeTheRequest()
    {
        int token = t.Token(t.User(), 1000, Policy(100, boundary: BoundaryMode.Strict));
        t.Settle(t.ReserveOk(token, 90), 90);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, t.Reserve(token, 60).Result);
        Assert.Equal(90, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(0, t.Policy0(token).ExhaustedAtMs);
    }

    [Fact]
    public void Reserve_ChecksRunInOrder_KeyThenWalletThenBudgetThenPolicies()
    {
        int poor = t.User(10);
        int token = t.Token(poor, 5, Policy(1, boundary: BoundaryMode.Strict));
        Assert.Equal(ReserveResult.InsufficientUserQuota, t.Reserve(token, 20).Result);
        Assert.Equal(ReserveResult.InsufficientKeyQuota, t.Reserve(token, 8).Result);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, t.Reserve(token, 2).Result);
        Assert.Equal(ReserveResult.KeyNotFound, t.Reserve(999, 1).Result);
        Assert.Equal(ReserveResult.InvalidAmount, t.Reserve(token, 0).Result);
        Assert.Equal(ReserveResult.InvalidAmount, t.Reserve(token, EngineLimits.AmountMaxUnits + 1).Result);
        Assert.Equal(0, t.Engine.ReadUser(poor)!.ReservedQuotaUnits);
        Assert.Equal(0, t.Read(token).ReservedQuotaUnits);
    }

    [Fact]
    public void Reserve_OnADisabledOrExpiredKey_IsRefused()
    {
        int user = t.User();
        int disabled = t.Token(new TokenSpec { UserId = user, RemainQuotaUnits = 100, Status = TokenStatus.Disabled });
        int expiring = t.Token(new TokenSpec { UserId = user, RemainQuotaUnits = 100, ExpiresAtMs = t.NowMs + 1000 });
        Assert.Equal(ReserveResult.KeyDisabled, t.Reserve(disabled, 1).Result);
        t.ReserveOk(expiring, 1);
        t.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ReserveResult.KeyExpired, t.Reserve(expiring, 1).Result);
        Assert.Equal(TokenStatus.Expired, t.Read(expiring).Status);
    }

    [Fact]
    public void Reserve_OnAnUnlimitedKey_IgnoresTheBudgetButStillTracksIt()
    {
        int token = t.Token(new TokenSpec { UserId = t.User(), RemainQuotaUnits = 0, UnlimitedQuota = true });
        t.Settle(t.ReserveOk(token, 500), 400);
        TokenView view = t.Read(token);
        Assert.Equal(-400, view.RemainQuotaUnits);
        Assert.Equal(400, view.UsedQuotaUnits);
        Assert.Equal(TokenStatus.Enabled, view.Status);
    }

    [Fact]
    public void Reserve_WithSeveralPolicies_IsAllOrNothing()
    {
        int user = t.User(10_000);
        int token = t.Token(user, 1000, Policy(1000, PeriodMode.Daily), Policy(50, boundary: BoundaryMode.Strict));
        ReserveOutcome outcome = t.Reserve(token, 60);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, outcome.Result);
        Assert.Equal(1, outcome.PolicyIndex);
        TokenView view = t.Read(token);
        Assert.All(view.Policies, p => Assert.Equal(0, p.ReservedQuotaUnits));
        Assert.Equal(0, view.ReservedQuotaUnits);
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
    }

    [Fact]
    public void Reserve_WhenTheReservationTableIsFull_SaysSo()
    {
        var small = new TestEngine(options: new EngineOptions { KeysMax = 4, UsersMax = 4, ReservationsMax = 64 });
        int token = small.Token(small.User(), 1000);
        for (int i = 0; i < 64; i++)
        {
            small.ReserveOk(token, 1);
        }

        Assert.Equal(ReserveResult.TooManyOpenReservations, small.Reserve(token, 1).Result);
        Assert.Equal(64, small.Read(token).ReservedQuotaUnits);
    }

    [Fact]
    public void Refund_ThatBringsUsageBelowTheQuota_ReopensARejectOnlyPolicy()
    {
        // exhaustion is derived from the counters, not from a sticky flag.
        int token = t.Token(t.User(), 1000, Policy(100));
        ReservationId first = t.ReserveOk(token, 100);
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 1).Result);
        t.Refund(first);
        t.ReserveOk(token, 1);
    }
}
