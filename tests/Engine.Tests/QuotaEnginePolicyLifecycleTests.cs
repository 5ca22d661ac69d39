using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>Exhaustion, pause, restore, resets and saving (docs/design.md "Settlement").</summary>
public sealed class QuotaEnginePolicyLifecycleTests
{
    private readonly TestEngine t = new();

    private int PausedToken(bool autoResume = true, long quota = 100, long used = 120)
    {
        int token = t.Token(t.User(), 1000, Policy(quota, action: ExhaustedAction.DisableToken, autoResume: autoResume));
        t.Settle(t.ReserveOk(token, 1), used);
        Assert.True(t.Read(token).Paused);
        return token;
    }

    private AuditAction[] Actions(int token) => t.Audit.For(token).Select(e => e.Action).ToArray();

    [Fact]
    public void DisableToken_PausesOnce_RecordsTheOriginalStatusOnce_ThenAutoRestoresInTheNextWindow()
    {
        // two exhausting settles in one window, one pause, one log; then one restore log.
        int token = t.Token(t.User(), 1000, Policy(100, action: ExhaustedAction.DisableToken));
        ReservationId first = t.ReserveOk(token, 60);
        ReservationId second = t.ReserveOk(token, 30);
        t.Settle(first, 100);
        t.Settle(second, 30);

        TokenView paused = t.Read(token);
        Assert.Equal(TokenStatus.Disabled, paused.Status);
        Assert.Equal(TokenStatus.Enabled, paused.Policies[0].ExhaustedTokenStatus);
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(token, 1).Result);
        Assert.Equal(0, t.Reserve(token, 1).PolicyIndex);

        t.NowMs = paused.Policies[0].PeriodEndMs;
        t.ReserveOk(token, 1); // the first request after the reset passes

        TokenView restored = t.Read(token);
        Assert.Equal(TokenStatus.Enabled, restored.Status);
        Assert.Equal(0, restored.Policies[0].ExhaustedAtMs);
        Assert.Equal(TokenStatus.None, restored.Policies[0].ExhaustedTokenStatus);
        Assert.Equal([AuditAction.ExhaustedDisable, AuditAction.AutoRestoreReset], Actions(token));
        AuditEvent disable = t.Audit.For(token)[0];
        Assert.Equal((100L, 100L), (disable.UsedQuotaUnits, disable.QuotaUnits)); // logged at the first exhausting settle
    }

    [Fact]
    public void RejectOnly_Exhaustion_NeverChangesTheKeyOrLogs()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 50), 150);
        Assert.Equal(TokenStatus.Enabled, t.Read(token).Status);
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 1).Result);
        Assert.Empty(t.Audit.Events);
    }

    [Fact]
    public void PausedKey_ReenabledByTheOperator_StaysPaused()
    {
        int token = PausedToken();
        t.Engine.UpdateToken(token, new TokenUpdate { Status = TokenStatus.Enabled }, t.NowMs);
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(token, 1).Result);
    }

    [Fact]
    public void ManuallyDisabledKey_IsNeverReenabledByAReset()
    {
        int token = PausedToken();
        t.Engine.UpdateToken(token, new TokenUpdate { Status = TokenStatus.Disabled }, t.NowMs);
        t.Advance(TimeSpan.FromHours(6));
        Assert.Equal(1, t.Engine.RollDueWindows(t.NowMs));
        Assert.Equal(ReserveResult.KeyDisabled, t.Reserve(token, 1).Result);
        TokenView view = t.Read(token);
        Assert.False(view.Paused);
        Assert.Equal(TokenStatus.Disabled, view.Status);
        t.Engine.ResetPolicies(token, -1, t.NowMs);
        Assert.Equal(TokenStatus.Disabled, t.Read(token).Status);
    }

    [Fact]
    public void AutoResumeOff_UsageResetsButTheKeyStaysPaused_UntilAManualReset()
    {
        // real semantics for auto_resume = false.
        int token = PausedToken(autoResume: false);
        t.Advance(TimeSpan.FromHours(5));
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(token, 1).Result);
        PolicyView policy = t.Policy0(token);
        Assert.Equal(0, policy.UsedQuotaUnits);
        Assert.True(policy.PausesKey);
        Assert.True(policy.Recovering);
        Assert.Equal(TokenStatus.Enabled, policy.ExhaustedTokenStatus);

        Assert.Equal(SpecError.None, t.Engine.ResetPolicies(token, -1, t.NowMs));
        t.ReserveOk(token, 1);
        Assert.Equal([AuditAction.ExhaustedDisable, AuditAction.ManualReset], Actions(token));
    }

    [Fact]
    public void ManualReset_ClearsUsage_RestoresTheKey_AndLogsOnce()
    {
        int token = PausedToken();
        Assert.Equal(SpecError.None, t.Engine.ResetPolicies(token, 0, t.NowMs));
        TokenView view = t.Read(token);
        Assert.Equal(0, view.Policies[0].UsedQuotaUnits);
        Assert.Equal(0, view.Policies[0].ExhaustedAtMs);
        Assert.Equal(TokenStatus.None, view.Policies[0].ExhaustedTokenStatus);
        Assert.Equal(TokenStatus.Enabled, view.Status);
        Assert.Single(t.Audit.For(token), e => e.Action == AuditAction.ManualReset);
    }

    [Fact]
    public void ManualReset_KeepsOpenReservationsOfTheWindow()
    {
        int token = t.Token(t.User(), 1000, Policy(100, boundary: BoundaryMode.Strict));
        t.Settle(t.ReserveOk(token, 50), 50);
        ReservationId open = t.ReserveOk(token, 30);
        t.Engine.ResetPolicies(token, -1, t.NowMs);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, t.Reserve(token, 71).Result);
        t.Settle(open, 30);
        Assert.Equal(30, t.Policy0(token).UsedQuotaUnits);
    }

    [Fact]
    public void ManualReset_OfAnOverdueWindow_RollsItFirst()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        long oldEnd = t.Policy0(token).PeriodEndMs;
        t.Advance(TimeSpan.FromHours(11));
        t.Engine.ResetPolicies(token, -1, t.NowMs);
        Assert.True(t.Policy0(token).PeriodStartMs >= oldEnd);
    }

    [Fact]
    public void ManualReset_WithoutAnEnabledPolicy_IsPolicyNotFound()
    {
        int token = t.Token(t.User(), 1000, Policy(100) with { Enabled = false });
        Assert.Equal(SpecError.PolicyNotFound, t.Engine.ResetPolicies(token, -1, t.NowMs));
        Assert.Equal(SpecError.PolicyNotFound, t.Engine.ResetPolicies(token, 3, t.NowMs));
        Assert.Equal(SpecError.TokenNotFound, t.Engine.ResetPolicies(999, -1, t.NowMs));
        Assert.Empty(t.Audit.Events);
    }

    [Fact]
    public void ResetOfADueWindow_AdvancesToTheWindowContainingNow()
    {
        // one reset, however many windows were missed.
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 80), 80);
        t.NowMs = At("2026-06-27T06:15:00Z");
        Assert.Equal(1, t.Engine.RollDueWindows(t.NowMs));
        PolicyView policy = t.Policy0(token);
        Assert.Equal((0L, At("2026-06-27T06:15:00Z"), At("2026-06-27T11:15:00Z")), (policy.UsedQuotaUnits, policy.PeriodStartMs, policy.PeriodEndMs));

        t.Advance(TimeSpan.FromDays(10));
        Assert.Equal(1, t.Engine.RollDueWindows(t.NowMs));
        Assert.Equal(0, t.Engine.RollDueWindows(t.NowMs));
        Assert.True(t.Policy0(token).PeriodStartMs <= t.NowMs && t.NowMs < t.Policy0(token).PeriodEndMs);
    }

    [Fact]
    public void Save_WithAQuotaAlreadyExhausted_PausesTheKey()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 80), 80);
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(50, action: ExhaustedAction.DisableToken)] }, t.NowMs);

        TokenView view = t.Read(token);
        Assert.Equal(80, view.Policies[0].UsedQuotaUnits);
        Assert.NotEqual(0, view.Policies[0].ExhaustedAtMs);
        Assert.Equal(TokenStatus.Enabled, view.Policies[0].ExhaustedTokenStatus);
        Assert.Equal(TokenStatus.Disabled, view.Status);
        Assert.Equal([AuditAction.UpdateDisable], Actions(token));
    }

    [Fact]
    public void Save_WithANewAnchor_CarriesUsageOver()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 80), 80);
        t.NowMs = At("2026-06-27T03:30:00Z");
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(50, action: ExhaustedAction.DisableToken, anchorMs: t.NowMs)] }, t.NowMs);
        PolicyView policy = t.Policy0(token);
        Assert.Equal(80, policy.UsedQuotaUnits);
        Assert.Equal(t.NowMs, policy.PeriodStartMs);
        Assert.True(t.Read(token).Paused);
    }

    [Fact]
    public void Save_WithAQuotaThatNowCoversUsage_RestoresThePausedKey()
    {
        int token = PausedToken();
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(200, action: ExhaustedAction.DisableToken)] }, t.NowMs);
        TokenView view = t.Read(token);
        Assert.Equal(120, view.Policies[0].UsedQuotaUnits);
        Assert.Equal(0, view.Policies[0].ExhaustedAtMs);
        Assert.Equal(TokenStatus.Enabled, view.Status);
        Assert.Equal([AuditAction.ExhaustedDisable, AuditAction.UpdateRestore], Actions(token));
        t.ReserveOk(token, 10);
    }

    [Fact]
    public void Save_DisablingThePolicy_RestoresTheKeyAndZeroesTheCounters()
    {
        int token = PausedToken();
        ReservationId open = t.ReserveOk(t.Token(t.User(), 10), 1);
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(100) with { Enabled = false }] }, t.NowMs);
        TokenView view = t.Read(token);
        Assert.Equal(TokenStatus.Enabled, view.Status);
        Assert.False(view.Policies[0].Spec.Enabled);
        Assert.Equal((0L, 0L, 0L), (view.Policies[0].UsedQuotaUnits, view.Policies[0].PeriodEndMs, view.Policies[0].ExhaustedAtMs));
        t.ReserveOk(token, 500);
        Assert.Equal(FinishResult.Ok, t.Settle(open, 1).Result);
    }

    [Fact]
    public void Save_SwitchingAnExhaustedPolicyToRejectOnly_ReleasesThePause()
    {
        int token = PausedToken();
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(100)] }, t.NowMs);
        Assert.False(t.Read(token).Paused);
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 1).Result);
    }

    [Fact]
    public void Save_OverAnElapsedWindow_DoesNotCarryStaleUsage()
    {
        int token = t.Token(t.User(), 1000, Policy(100));
        t.Settle(t.ReserveOk(token, 80), 80);
        t.Advance(TimeSpan.FromHours(6));
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(50)] }, t.NowMs);
        Assert.Equal(0, t.Policy0(token).UsedQuotaUnits);
    }

    [Fact]
    public void Save_RemovingAPolicyWithOpenReservations_LetsThemSettle()
    {
        int token = t.Token(t.User(), 1000, Policy(100), Policy(100, PeriodMode.Daily));
        ReservationId open = t.ReserveOk(token, 10);
        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(100)] }, t.NowMs);
        Assert.Single(t.Read(token).Policies);
        Assert.Equal(FinishResult.Ok, t.Settle(open, 10).Result);
        Assert.Equal(10, t.Policy0(token).UsedQuotaUnits);
    }

    [Fact]
    public void UpdateToken_SetsTheBudgetAndExpiry_AndRejectsBadInputWithoutChanges()
    {
        int token = t.Token(t.User(), 1000);
        t.Settle(t.ReserveOk(token, 100), 100);
        Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = 5000 }, t.NowMs).IsOk);
        Assert.Equal(5000, t.Read(token).RemainQuotaUnits);

        SaveOutcome bad = t.Engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = 1, Policies = [Policy(0)] }, t.NowMs);
        Assert.Equal(new SaveOutcome(SpecError.PolicyQuotaInvalid, token, 0), bad);
        Assert.Equal(5000, t.Read(token).RemainQuotaUnits);
        Assert.Empty(t.Read(token).Policies);
        Assert.Equal(SpecError.TokenNotFound, t.Engine.UpdateToken(77, new TokenUpdate(), t.NowMs).Error);
    }

    [Fact]
    public void ExhaustionMark_ArrivingAfterTheWindowRolledOver_DoesNotPauseTheFreshWindow()
    {
        // the interleaving "charge exhausts window G → window rolls to G+1 → mark runs" made deterministic.
        int token = t.Token(t.User(), 1000, Policy(100, action: ExhaustedAction.DisableToken));
        ReservationId id = t.ReserveOk(token, 1);
        using (RaceHook.At(RaceHooks.Point.SettleChargedUnmarked, () =>
        {
            t.Advance(TimeSpan.FromHours(5));
            t.Engine.RollDueWindows(t.NowMs); // the window rolls between the charge and the mark
        }))
        {
            Assert.True(t.Settle(id, 150).Exhausted); // the reply says what the charge did to its window
        }

        Assert.False(t.Read(token).Paused);
        Assert.Equal(0, t.Policy0(token).ExhaustedAtMs);
    }
}
