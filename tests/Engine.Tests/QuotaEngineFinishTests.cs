using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>Settle, refund and expiry: exactly once, idempotent, window attribution (docs/design.md "Settlement").</summary>
public sealed class QuotaEngineFinishTests
{
    private readonly TestEngine t = new();

    [Theory]
    [InlineData(80, 920, 80)] // actual above the estimate
    [InlineData(60, 940, 60)] // actual equal to the estimate still charges the graceful policy
    [InlineData(30, 970, 30)] // actual below the estimate
    [InlineData(0, 1000, 0)]
    public void Settle_ChargesTheActualCost(long actual, long remain, long used)
    {
        int token = t.Token(t.User(10_000), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 60), actual);
        Assert.Equal(remain, t.Read(token).RemainQuotaUnits);
        Assert.Equal(used, t.Policy0(token).UsedQuotaUnits);
    }

    [Fact]
    public void Settle_ExactQuota_CountsAsExhausted()
    {
        int token = t.Token(t.User(), 1000, Policy(100, boundary: BoundaryMode.Strict));
        FinishOutcome outcome = t.Settle(t.ReserveOk(token, 100), 100);
        Assert.True(outcome.Exhausted);
        Assert.Equal(t.NowMs, t.Policy0(token).ExhaustedAtMs);
    }

    [Fact]
    public void Settle_Twice_ReturnsTheFirstOutcome_AndChargesOnce()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        ReservationId id = t.ReserveOk(token, 60);
        Assert.Equal(new FinishOutcome(FinishResult.Ok, 70, false, false), t.Settle(id, 70));
        Assert.Equal(new FinishOutcome(FinishResult.Ok, 70, false, true), t.Settle(id, 99));
        Assert.Equal(70, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(930, t.Read(token).RemainQuotaUnits);
    }

    [Fact]
    public void Refund_Twice_ReleasesOnce()
    {
        int user = t.User();
        int token = t.Token(user, 1000, Policy(100));
        ReservationId id = t.ReserveOk(token, 30);
        Assert.Equal(new FinishOutcome(FinishResult.Ok, 0, false, false), t.Refund(id));
        Assert.Equal(new FinishOutcome(FinishResult.Ok, 0, false, true), t.Refund(id));
        Assert.Equal(0, t.Policy0(token).UsedQuotaUnits); // never below zero
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(1000, t.Read(token).RemainQuotaUnits);
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
    }

    [Fact]
    public void SettleAfterRefund_AndRefundAfterSettle_AreRejectedNotApplied()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        ReservationId refunded = t.ReserveOk(token, 10);
        ReservationId settled = t.ReserveOk(token, 10);
        t.Refund(refunded);
        t.Settle(settled, 10);

        Assert.Equal(FinishResult.AlreadyRefunded, t.Settle(refunded, 10).Result);
        Assert.Equal(FinishResult.AlreadySettled, t.Refund(settled).Result);
        Assert.Equal(10, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(990, t.Read(token).RemainQuotaUnits);
    }

    [Fact]
    public void Finish_OfAnUnknownOrForgedId_IsNotFound()
    {
        Assert.Equal(FinishResult.NotFound, t.Settle(new ReservationId(12345), 1).Result);
        Assert.Equal(FinishResult.NotFound, t.Refund(ReservationId.From(5, 77)).Result);
        Assert.Equal(FinishResult.NotFound, t.Refund(ReservationId.From(int.MaxValue, 1)).Result);
        int token = t.Token(t.User(), 1000);
        ReservationId id = t.ReserveOk(token, 1);
        Assert.Equal(FinishResult.InvalidAmount, t.Settle(id, -1).Result);
        Assert.Equal(FinishResult.Ok, t.Settle(id, 1).Result);
    }

    [Fact]
    public void ReservationId_RoundTripsThroughText()
    {
        var id = ReservationId.From(42, 7);
        Assert.True(ReservationId.TryParse(id.ToString(), out ReservationId parsed));
        Assert.Equal(id, parsed);
        Assert.False(ReservationId.TryParse("nope", out _));
        Assert.False(ReservationId.TryParse("0000000000000000", out _));
    }

    [Fact]
    public void Expiry_SettlesAtTheEstimate_LogsIt_AndLaterCallsSeeItExpired()
    {
        int user = t.User(1000);
        int token = t.Token(user, 1000, Policy(100));
        ReservationId id = t.ReserveOk(token, 40);
        Assert.Equal(0, t.Engine.ExpireDue(t.NowMs + 599_999));
        Assert.Equal(1, t.Engine.ExpireDue(t.NowMs + 600_000));

        Assert.Equal(40, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(960, t.Engine.ReadUser(user)!.QuotaUnits);
        Assert.Equal(FinishResult.AlreadyExpired, t.Settle(id, 10).Result);
        Assert.Equal(FinishResult.AlreadyExpired, t.Refund(id).Result);
        AuditEvent expired = Assert.Single(t.Audit.Events);
        Assert.Equal(AuditAction.ReservationExpired, expired.Action);
        Assert.Equal(id, expired.ReservationId);
        Assert.Equal(40, expired.AmountUnits);
    }

    [Fact]
    public void Settle_AfterTheWindowRolledOver_DoesNotTouchTheNewWindow()
    {
        // a charge goes to the window its reservation was made in.
        int token = t.Token(t.User(), 1000, Policy(100));
        ReservationId id = t.ReserveOk(token, 60);
        t.Advance(TimeSpan.FromHours(5));
        t.ReserveOk(token, 10); // rolls the window
        t.Settle(id, 80);

        PolicyView policy = t.Policy0(token);
        Assert.Equal(0, policy.UsedQuotaUnits);
        Assert.Equal(10, policy.ReservedQuotaUnits);
        Assert.Equal(920, t.Read(token).RemainQuotaUnits); // the lifetime budget is charged
        Assert.Equal(80, t.Read(token).UsedQuotaUnits);
    }

    [Fact]
    public void DeleteToken_LeavesItsOpenReservationsToSettleOnTheWallet_AndForgetsTheKey()
    {
        int user = t.User(1000);
        int token = t.Token(user, 1000, Policy(100));
        ReservationId settled = t.ReserveOk(token, 40);
        ReservationId expiring = t.ReserveOk(token, 25);
        Assert.Equal(SpecError.None, t.Engine.DeleteToken(token, t.NowMs));
        Assert.Equal(SpecError.TokenNotFound, t.Engine.DeleteToken(token, t.NowMs));
        Assert.Equal(65, t.Engine.ReadUser(user)!.ReservedQuotaUnits); // still held: the work may be under way

        Assert.Equal(new FinishOutcome(FinishResult.Ok, 55, false, false), t.Settle(settled, 55)); // delivered: charged
        t.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, t.Engine.ExpireDue(t.NowMs));
        Assert.Equal(new UserView(user, 1000 - 55 - 25, 80, 0), t.Engine.ReadUser(user));
        Assert.Equal(ReserveResult.KeyNotFound, t.Reserve(token, 1).Result);
        Assert.Null(t.Engine.ReadToken(token, t.NowMs));
        Assert.Equal(FinishResult.AlreadyExpired, t.Refund(expiring).Result);
    }

    [Fact]
    public void CreditUser_TopsUp_AndADebitNeverGoesBelowWhatIsHeld()
    {
        int user = t.User(100);
        int token = t.Token(user, 1000);
        t.ReserveOk(token, 60);
        Assert.Equal(SpecError.None, t.Engine.CreditUser(user, 50));
        Assert.Equal(SpecError.UserQuotaInvalid, t.Engine.CreditUser(user, -91));
        Assert.Equal(SpecError.None, t.Engine.CreditUser(user, -90));
        Assert.Equal(60, t.Engine.ReadUser(user)!.QuotaUnits);
        Assert.Equal(SpecError.UserNotFound, t.Engine.CreditUser(99, 1));
        Assert.Equal(SpecError.UserQuotaInvalid, t.Engine.CreateUser(-1).Error);
    }
}
