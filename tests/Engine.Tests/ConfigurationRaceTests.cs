using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// A save racing a reserve of the same key (docs/design.md "Invariants", configuration publication): the save runs in
/// the middle of the reserve — after it read the key's configuration, or after it held its accounts (or was refused) — and the reserve
/// must come out as if it ran wholly before the save or wholly after it: never admitted by a mix of the two
/// configurations, never holding an amount in one metric that its settle releases in another.
/// </summary>
public sealed class ConfigurationRaceTests
{
    private readonly TestEngine t = new();

    /// <summary>Where the save runs: after the reserve read the configuration (false) or after it decided, held or refused (true).</summary>
    public static TheoryData<bool> Points() => new(false, true);

    private ReserveOutcome ReserveRacing(bool afterHolding, int token, ReserveRequest request, Action save)
    {
        bool saved = false;
        ReserveOutcome outcome;
        using (RaceHook.At(afterHolding ? RaceHooks.Point.ReserveDecided : RaceHooks.Point.ReserveConfigurationRead, () =>
        {
            save();
            saved = true;
        }))
        {
            outcome = t.Engine.Reserve(token, request, t.NowMs);
        }

        Assert.True(saved, "the save did not run inside the reserve");
        return outcome;
    }

    private void Save(int token, params QuotaPolicySpec[] policies) =>
        Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = policies }, t.NowMs).IsOk);

    public static TheoryData<PolicyMetric, PolicyMetric, bool> MetricChanges()
    {
        var data = new TheoryData<PolicyMetric, PolicyMetric, bool>();
        foreach (bool point in new[] { false, true })
        {
            data.Add(PolicyMetric.Quota, PolicyMetric.Tokens, point);
            data.Add(PolicyMetric.Tokens, PolicyMetric.Quota, point);
            data.Add(PolicyMetric.Quota, PolicyMetric.Requests, point);
            data.Add(PolicyMetric.Requests, PolicyMetric.Quota, point);
        }

        return data;
    }

    /// <summary>
    /// A reserve that read the old metric while a save switched the policy to another one (a fresh window): it holds in
    /// one metric and is released in the same one, so the window's reserved is exactly what open reservations hold
    /// (never a phantom amount, never negative: negative reserved would be extra headroom).
    /// </summary>
    [Theory]
    [MemberData(nameof(MetricChanges))]
    public void AReserveRacingAMetricChange_HoldsAndReleasesInTheWindowsOwnMetric(PolicyMetric from, PolicyMetric to, bool point)
    {
        int token = t.Token(t.User(), 1_000_000, Policy(1_000) with { Metric = from });
        var request = new ReserveRequest(300, Tokens: 7);

        ReserveOutcome outcome = ReserveRacing(point, token, request, () => Save(token, Policy(1_000) with { Metric = to }));

        Assert.Equal(ReserveResult.Ok, outcome.Result);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(to switch { PolicyMetric.Quota => 300, PolicyMetric.Tokens => 7, _ => 1 }, t.Policy0(token).ReservedQuotaUnits);
        t.Refund(outcome.Id);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.Equal(0, t.Read(token).ReservedQuotaUnits);
    }

    /// <summary>
    /// A = policy 0 strict 1 unit for model m, B = policy 1 strict 1 unit for m: a 5-unit request for m is refused under
    /// each. A reserve that read A while the key was saved as B must not pair A's policies with B's scope (which
    /// leaves no policy applying, and admits).
    /// </summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingAScopeChange_IsJudgedByOneScopeWhole(bool point)
    {
        QuotaPolicySpec strictOneForM = Policy(1, boundary: BoundaryMode.Strict) with { Models = ["m"] };
        int token = t.Token(t.User(), 1_000_000, strictOneForM);

        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(5, Model: "m"),
            () => Save(token, strictOneForM with { Enabled = false, Models = ["other"] }, strictOneForM));

        Assert.Equal(new ReserveOutcome(ReserveResult.PolicyEstimateTooLarge, ReservationId.None, 0, 1) { Account = AccountId.Window(token, 1) }, outcome);
        Assert.Empty(ConservationAudit.Check(t.Engine));
    }

    /// <summary>
    /// Old: graceful, quota 100, all used (room 0: refused). New: strict, quota 200 (room 100: a 150-unit request is
    /// refused). A reserve that judged by the old boundary against the raised quota would admit it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingAQuotaRaiseThatMakesThePolicyStrict_IsNotAdmittedByTheMix(bool point)
    {
        int token = t.Token(t.User(), 1_000_000, Policy(100));
        t.Settle(t.ReserveOk(token, 100), 100);

        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(150), () => Save(token, Policy(200, boundary: BoundaryMode.Strict)));

        Assert.Equal(new ReserveOutcome(ReserveResult.PolicyEstimateTooLarge, ReservationId.None, 0, 0) { Account = AccountId.Window(token, 0) }, outcome);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
    }

    /// <summary>
    /// Old: budget 10, no policy (a 500-unit request is refused by the budget). New: budget 1,000 and a strict 5-unit
    /// policy (refused by the policy). The raised budget must not be seen with the old, policy-free configuration.
    /// </summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingABudgetRaiseThatAddsAPolicy_IsNotAdmittedByTheMix(bool point)
    {
        int token = t.Token(t.User(1_000_000), remain: 10);

        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(500), () => Assert.True(t.Engine.UpdateToken(token,
            new TokenUpdate { RemainQuotaUnits = 1_000, Policies = [Policy(5, boundary: BoundaryMode.Strict)] }, t.NowMs).IsOk));

        Assert.Equal(new ReserveOutcome(ReserveResult.PolicyEstimateTooLarge, ReservationId.None, 0, 0) { Account = AccountId.Window(token, 0) }, outcome);
        Assert.Empty(ConservationAudit.Check(t.Engine));
    }

    /// <summary>Old: disabled by the operator, no policy. New: enabled with a strict 1-unit policy. Neither admits 5 units.</summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingASaveThatEnablesTheKeyAndAddsAPolicy_IsNotAdmittedByTheMix(bool point)
    {
        int token = t.Token(new TokenSpec { UserId = t.User(), RemainQuotaUnits = 1_000, Status = TokenStatus.Disabled });
        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(5), () => Assert.True(t.Engine.UpdateToken(token,
            new TokenUpdate { Status = TokenStatus.Enabled, Policies = [Policy(1, boundary: BoundaryMode.Strict)] }, t.NowMs).IsOk));

        Assert.Equal(new ReserveOutcome(ReserveResult.PolicyEstimateTooLarge, ReservationId.None, 0, 0) { Account = AccountId.Window(token, 0) }, outcome);
    }

    /// <summary>Old: a strict 1-unit policy (5 units refused). New: that policy disabled (admitted). The reply is one of the two.</summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingASaveThatDisablesItsPolicy_GetsTheOldOrTheNewAnswer(bool point)
    {
        QuotaPolicySpec strict = Policy(1, boundary: BoundaryMode.Strict);
        int token = t.Token(t.User(), 1_000_000, strict, Policy(1_000));
        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(5), () => Save(token, strict with { Enabled = false }, Policy(1_000)));

        Assert.Equal(ReserveResult.Ok, outcome.Result);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(5, t.Read(token).Policies[1].ReservedQuotaUnits);
    }

    /// <summary>A reserve racing the key's deletion: admitted before it, or refused after it; the books balance either way.</summary>
    [Theory]
    [MemberData(nameof(Points))]
    public void AReserveRacingADelete_IsRefusedAsAfterIt(bool point)
    {
        int user = t.User(1_000);
        int token = t.Token(user, 1_000, Policy(100));

        ReserveOutcome outcome = ReserveRacing(point, token, new ReserveRequest(50), () => Assert.Equal(SpecError.None, t.Engine.DeleteToken(token, t.NowMs)));

        Assert.Equal(ReserveResult.KeyNotFound, outcome.Result);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
    }
}
