using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>Budget alerts: the one charge that crosses a threshold emits it, once per window; wallets count from their last top-up.</summary>
public sealed class QuotaEngineAlertTests
{
    private static TestEngine New(params int[] percents) =>
        new(options: new EngineOptions { KeysMax = 64, UsersMax = 64, ReservationsMax = 256, AlertThresholdsPercent = percents });

    [Fact]
    public void EachThreshold_IsEmittedOnce_ByTheChargeThatCrossesIt_InThePolicysMetric()
    {
        TestEngine t = New(50, 80, 100);
        int user = t.User(1_000_000);
        int token = t.Token(user, 1_000_000, Policy(100));
        int counted = t.Token(user, 1_000_000, Policy(1_000), Policy(10) with { Metric = PolicyMetric.Requests });

        Charge(t, token, 40);                 // 40 of 100, 1 of 10 requests: nothing
        Assert.Empty(Alerts(t));
        Charge(t, token, 45);                 // 85: crosses 50 and 80 together
        Assert.Equal([(0, 50, 85L), (0, 80, 85L)], Alerts(t).Select(e => (e.PolicyIndex, e.ThresholdPercent, e.UsedQuotaUnits)));
        Charge(t, token, 10);                 // 95: nothing new
        Charge(t, token, 30);                 // 125: crosses 100
        AuditEvent last = Alerts(t)[^1];
        Assert.Equal((3, 0, 100, 125L, 100L, PolicyMetric.Quota), (Alerts(t).Count(e => e.TokenId == token), last.PolicyIndex, last.ThresholdPercent, last.UsedQuotaUnits, last.QuotaUnits, last.Metric));
        Assert.True(last.NextResetAtMs > last.NewPeriodStartMs);

        for (int i = 0; i < 10; i++)
        {
            Charge(t, counted, 1);            // the requests policy: 1 … 10 of 10
        }

        AuditEvent[] requests = [.. Alerts(t).Where(e => e.TokenId == counted)];
        Assert.Equal([(1, 50, 5L), (1, 80, 8L), (1, 100, 10L)], requests.Select(e => (e.PolicyIndex, e.ThresholdPercent, e.UsedQuotaUnits)));
        Assert.All(requests, e => Assert.Equal(PolicyMetric.Requests, e.Metric));
    }

    [Fact]
    public void ANewWindow_CanCrossItsThresholdsAgain_AndARefundCrossesNothing()
    {
        TestEngine t = New(80);
        int token = t.Token(t.User(1_000_000), 1_000_000, Policy(100));
        ReserveOutcome held = t.Engine.Reserve(token, 90, t.NowMs);
        Assert.Equal(FinishResult.Ok, t.Engine.Refund(held.Id, t.NowMs).Result);
        Assert.Empty(Alerts(t));

        Charge(t, token, 90);
        t.Advance(TimeSpan.FromDays(1));
        t.Engine.RollDueWindows(t.NowMs);
        Charge(t, token, 90);

        AuditEvent[] alerts = [.. Alerts(t)];
        Assert.Equal(2, alerts.Length);
        Assert.True(alerts[1].NewPeriodStartMs > alerts[0].NewPeriodStartMs, "one event per window: the second names the new window");
    }

    [Fact]
    public void AWallet_AlertsOnItsSpendSinceTheLastTopUp()
    {
        TestEngine t = New(80, 100);
        int user = t.User(10_000);
        int token = t.Token(user, 1_000_000);
        Charge(t, token, 9_000); // no base set yet: nothing
        Assert.Empty(Alerts(t));

        Assert.Equal(SpecError.None, t.Engine.CreditUser(user, 4_000)); // balance 5,000
        Assert.True(t.Engine.SetWalletAlertBase(user, 5_000, t.NowMs));
        Charge(t, token, 3_900);  // 3,900 of 5,000 spent: below 80%
        Assert.Empty(Alerts(t));
        Charge(t, token, 200);    // 4,100: crosses 80%
        AuditEvent alert = Assert.Single(Alerts(t));
        Assert.Equal((-1, 80, 4_100L, 5_000L, t.NowMs), (alert.PolicyIndex, alert.ThresholdPercent, alert.UsedQuotaUnits, alert.QuotaUnits, alert.NewPeriodStartMs));
        Assert.False(t.Engine.SetWalletAlertBase(999, 1, t.NowMs));
    }

    [Fact]
    public void Thresholds_AreValidated_NamingTheOption()
    {
        Assert.Equal("AlertThresholdsPercent", Assert.Throws<ArgumentOutOfRangeException>(() => New(80, 50)).ParamName);
        Assert.Equal("AlertThresholdsPercent", Assert.Throws<ArgumentOutOfRangeException>(() => New(0)).ParamName);
        Assert.Equal("AlertThresholdsPercent", Assert.Throws<ArgumentOutOfRangeException>(() => New(101)).ParamName);
        Assert.Equal("AlertThresholdsPercent", Assert.Throws<ArgumentOutOfRangeException>(() => New(10, 20, 30, 40, 50)).ParamName);
    }

    private static void Charge(TestEngine t, int token, long amount)
    {
        ReserveOutcome reserved = t.Engine.Reserve(token, new ReserveRequest(amount, Tokens: 1, Model: null), t.NowMs);
        Assert.True(reserved.IsOk, reserved.Result.ToString());
        Assert.Equal(FinishResult.Ok, t.Engine.Settle(reserved.Id, amount, t.NowMs).Result);
    }

    private static List<AuditEvent> Alerts(TestEngine t) => [.. t.Audit.Events.Where(e => e.Action == AuditAction.ThresholdReached)];
}
