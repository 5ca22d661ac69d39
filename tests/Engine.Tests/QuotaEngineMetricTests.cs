using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>Policies that count tokens or requests, and policies scoped to models: one atomic admission for all of them.</summary>
public sealed class QuotaEngineMetricTests
{
    private readonly TestEngine t = new();

    private static QuotaPolicySpec Rpm(long requests) => Policy(requests, PeriodMode.Custom, customMinutes: 1) with { Metric = PolicyMetric.Requests };

    private ReserveOutcome Reserve(int token, long units, long tokens = 0, string? model = null) =>
        t.Engine.Reserve(token, new ReserveRequest(units, tokens, model), t.NowMs);

    [Fact]
    public void ARequestsPolicy_CountsOnePerRequest_RefundsGiveItBack_ExpiriesKeepIt_AndTheMinuteRolls()
    {
        int token = t.Token(t.User(), 1_000_000, Rpm(3));
        ReservationId refunded = Reserve(token, 500).Id;
        Reserve(token, 500);
        ReservationId expiring = Reserve(token, 1).Id;
        Assert.Equal(ReserveResult.PolicyExhausted, Reserve(token, 1).Result);

        t.Refund(refunded);
        Assert.Equal(ReserveResult.Ok, Reserve(token, 1).Result);
        t.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(ReserveResult.PolicyExhausted, Reserve(token, 1).Result);
        t.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ReserveResult.Ok, Reserve(token, 1).Result); // a new minute

        _ = expiring;
        Assert.Equal(1, t.Policy0(token).ReservedQuotaUnits);
    }

    [Fact]
    public void ATokensPolicy_HoldsTheTokenEstimate_AndChargesTheActualTokens()
    {
        int token = t.Token(t.User(), 1_000_000, Policy(1000, boundary: BoundaryMode.Strict) with { Metric = PolicyMetric.Tokens });
        ReservationId first = Reserve(token, 5, tokens: 600).Id;
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, Reserve(token, 5, tokens: 600).Result);
        Assert.Equal(new FinishOutcome(FinishResult.Ok, 7, false, false), t.Engine.Settle(first, 7, actualTokens: 300, t.NowMs));

        Assert.Equal(300, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(ReserveResult.Ok, Reserve(token, 5, tokens: 600).Result);
        Assert.Equal(7, t.Read(token).UsedQuotaUnits); // the budget counts units, whatever the policies count
    }

    [Fact]
    public void AScopedPolicy_BlocksItsModelsOnly()
    {
        int token = t.Token(t.User(), 1_000_000, Policy(100) with { Models = ["gpt-4*", "o1"] });
        t.Settle(Reserve(token, 10, model: "gpt-4o").Id, 100);

        Assert.Equal(ReserveResult.PolicyExhausted, Reserve(token, 1, model: "gpt-4o-mini").Result);
        Assert.Equal(ReserveResult.PolicyExhausted, Reserve(token, 1, model: "o1").Result);
        Assert.Equal(ReserveResult.Ok, Reserve(token, 1, model: "o1-mini").Result);
        Assert.Equal(ReserveResult.Ok, Reserve(token, 1, model: "claude-3").Result);
        Assert.Equal(ReserveResult.Ok, Reserve(token, 1).Result); // no model named: no scoped policy applies
    }

    [Theory]
    [InlineData(null)]
    [InlineData("gpt-4o")]
    [InlineData("gpt-4")]
    [InlineData("gpt-")]
    [InlineData("o1")]
    [InlineData("o1-mini")]
    [InlineData("claude-3")]
    [InlineData("")]
    public void AppliesTo_NamesExactlyThePoliciesAReserveHolds(string? model)
    {
        QuotaPolicySpec[] policies =
        [
            Policy(100) with { Models = ["gpt-4*", "o1"] },
            Policy(100) with { Models = ["*"] },
            Policy(100),
            Policy(100) with { Models = ["o1-mini", "gpt-"] },
        ];
        int token = t.Token(t.User(), 1_000_000, policies);

        Assert.Equal(ReserveResult.Ok, Reserve(token, 7, model: model).Result);

        foreach (PolicyView policy in t.Read(token).Policies)
        {
            Assert.Equal(policy.Spec.AppliesTo(model) ? 7 : 0, policy.ReservedQuotaUnits);
        }
    }

    [Fact]
    public void AKeyWithEveryMetric_AdmitsAllOrNothing_AndARefusalChangesNoCounter()
    {
        int user = t.User(1_000_000);
        int token = t.Token(user, 1_000_000,
            Policy(10_000),
            Policy(1000, boundary: BoundaryMode.Strict) with { Metric = PolicyMetric.Tokens },
            Rpm(10),
            Policy(50) with { Models = ["gpt-4*"] });
        Assert.Equal(ReserveResult.Ok, Reserve(token, 40, tokens: 900, model: "gpt-4o").Result);
        string before = EngineState.Describe(t.Engine, t.NowMs);

        ReserveOutcome refused = Reserve(token, 40, tokens: 200, model: "gpt-4o");

        Assert.Equal(new ReserveOutcome(ReserveResult.PolicyEstimateTooLarge, ReservationId.None, 0, 1) { Account = AccountId.Window(token, 1) }, refused);
        Assert.Equal(before, EngineState.Describe(t.Engine, t.NowMs));
        Assert.Empty(ConservationAudit.Check(t.Engine));
        IReadOnlyList<PolicyView> policies = t.Read(token).Policies;
        Assert.Equal([40L, 900, 1, 40], policies.Select(p => p.ReservedQuotaUnits));
    }

    [Fact]
    public void ChangingAPolicysMetric_StartsAFreshWindow()
    {
        int token = t.Token(t.User(), 1_000_000, Policy(100));
        t.Settle(Reserve(token, 60).Id, 60);
        Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Rpm(100)] }, t.NowMs).IsOk);
        Assert.Equal(0, t.Policy0(token).UsedQuotaUnits); // 60 units are not 60 requests
        Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Rpm(50)] }, t.NowMs).IsOk);
        Assert.Equal(50, t.Policy0(token).Spec.QuotaUnits);
    }

    public static TheoryData<QuotaPolicySpec, SpecError> BadPolicies() => new()
    {
        { Policy(100) with { Models = [""] }, SpecError.PolicyModelsInvalid },
        { Policy(100) with { Models = ["gpt*4"] }, SpecError.PolicyModelsInvalid },
        { Policy(100) with { Models = [new string('m', EngineLimits.ModelNameLengthMax + 1)] }, SpecError.PolicyModelsInvalid },
        { Policy(100) with { Models = [.. Enumerable.Range(0, EngineLimits.ModelsPerPolicyMax + 1).Select(i => $"m{i}")] }, SpecError.PolicyModelsInvalid },
        { Policy(100, PeriodMode.Custom, customMinutes: 1), SpecError.PolicyCustomMinutesInvalid },
        { Policy(100) with { Metric = (PolicyMetric)9 }, SpecError.PolicyMetricInvalid },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public void BadMetricOrScope_IsRefusedNamingThePolicy(QuotaPolicySpec bad, SpecError error)
    {
        int user = t.User();
        Assert.Equal(new SaveOutcome(error, 0, 1), t.Engine.CreateToken(new TokenSpec { UserId = user, Policies = [Rpm(5), bad] }, t.NowMs));
    }

    [Fact]
    public void OneMinuteWindows_AreForTokensAndRequestsPolicies()
    {
        int user = t.User();
        Assert.True(t.Engine.CreateToken(new TokenSpec { UserId = user, Policies = [Rpm(5), Policy(9, PeriodMode.Custom, customMinutes: 1) with { Metric = PolicyMetric.Tokens }] }, t.NowMs).IsOk);
    }
}
