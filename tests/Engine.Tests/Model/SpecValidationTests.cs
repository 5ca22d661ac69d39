using Quota.Engine.Model;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Model;

/// <summary>The validation table: every SpecError a spec can produce.</summary>
public sealed class SpecValidationTests
{
    [Fact]
    public void DisabledPolicy_WithZeroQuota_IsValid() =>
        Assert.Equal(SpecError.None, SpecValidation.ValidatePolicy(Policy(0, PeriodMode.Daily) with { Enabled = false }));

    [Fact]
    public void EnabledDailyPolicy_IsValid() =>
        Assert.Equal(SpecError.None, SpecValidation.ValidatePolicy(Policy(100, PeriodMode.Daily)));

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(EngineLimits.PolicyQuotaMaxUnits + 1)]
    public void EnabledPolicy_WithQuotaOutOfRange_IsRejected(long quota) =>
        Assert.Equal(SpecError.PolicyQuotaInvalid, SpecValidation.ValidatePolicy(Policy(quota)));

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(525_601)]
    public void CustomMinutes_OutsideTenToAYear_AreRejected(int minutes) =>
        Assert.Equal(SpecError.PolicyCustomMinutesInvalid, SpecValidation.ValidatePolicy(Policy(100, PeriodMode.Custom, customMinutes: minutes)));

    [Fact]
    public void NonPositiveAnchor_IsRejected() =>
        Assert.Equal(SpecError.PolicyAnchorInvalid, SpecValidation.ValidatePolicy(Policy(100) with { AnchorMs = -5 }));

    [Fact]
    public void UnknownEnumValues_AreRejected()
    {
        Assert.Equal(SpecError.PolicyPeriodModeInvalid, SpecValidation.ValidatePolicy(Policy(100) with { Mode = (PeriodMode)99 }));
        Assert.Equal(SpecError.PolicyExhaustedActionInvalid, SpecValidation.ValidatePolicy(Policy(100) with { ExhaustedAction = (ExhaustedAction)9 }));
        Assert.Equal(SpecError.PolicyBoundaryModeInvalid, SpecValidation.ValidatePolicy(Policy(100) with { BoundaryMode = (BoundaryMode)9 }));
    }

    [Fact]
    public void UnknownTimeZone_IsRejected() =>
        Assert.Equal(SpecError.PolicyTimeZoneInvalid, SpecValidation.ValidatePolicy(Policy(100, PeriodMode.Daily, timeZone: "Mars/Olympus")));

    [Fact]
    public void TokenSpec_Errors_NameTheFieldAndThePolicy()
    {
        Assert.Equal((SpecError.StatusInvalid, -1), SpecValidation.Validate(new TokenSpec { Status = TokenStatus.Expired }));
        Assert.Equal((SpecError.RemainQuotaInvalid, -1), SpecValidation.Validate(new TokenSpec { RemainQuotaUnits = -1 }));
        Assert.Equal((SpecError.ExpiresAtInvalid, -1), SpecValidation.Validate(new TokenSpec { ExpiresAtMs = 0 }));
        Assert.Equal((SpecError.TooManyPolicies, -1), SpecValidation.Validate(new TokenSpec { Policies = Enumerable.Repeat(Policy(1), 5).ToArray() }));
        Assert.Equal((SpecError.PolicyQuotaInvalid, 1), SpecValidation.Validate(new TokenSpec { Policies = [Policy(1), Policy(0)] }));
    }

    [Fact]
    public void CreateToken_WithAnInvalidSpec_ChangesNothing()
    {
        var t = new Support.TestEngine();
        int user = t.User();
        SaveOutcome outcome = t.Engine.CreateToken(new TokenSpec { UserId = user, Policies = [Policy(100), Policy(-3)] }, t.NowMs);
        Assert.Equal(new SaveOutcome(SpecError.PolicyQuotaInvalid, 0, 1), outcome);
        Assert.Null(t.Engine.ReadToken(1, t.NowMs));
        Assert.Equal(SpecError.UserNotFound, t.Engine.CreateToken(new TokenSpec { UserId = 999 }, t.NowMs).Error);
    }
}
