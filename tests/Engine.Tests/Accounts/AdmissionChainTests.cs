using Quota.Engine.Accounts;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Accounts;

/// <summary>
/// The admission chain (src/Engine/Accounts/AdmissionChain.cs): a key's accounts in check order, built when its
/// configuration is published; a reserve holds all or none and a refusal names the account that refused.
/// </summary>
public sealed class AdmissionChainTests
{
    private readonly TestEngine t = new(T0);

    [Fact]
    public void Reserve_WhenTheWalletRefuses_NamesTheUsersWallet()
    {
        int user = t.User(50);
        int token = t.Token(user, 1_000, Policy(1_000));

        ReserveOutcome outcome = t.Reserve(token, 60);

        Assert.Equal(ReserveResult.InsufficientUserQuota, outcome.Result);
        Assert.Equal(AccountId.Wallet(user), outcome.Account);
        Assert.Equal(-1, outcome.PolicyIndex);
    }

    [Fact]
    public void Reserve_WhenTheKeyBudgetRefuses_NamesTheKeyBudget_AndGivesTheWalletBack()
    {
        int user = t.User(1_000);
        int token = t.Token(user, 50, Policy(1_000));

        ReserveOutcome outcome = t.Reserve(token, 60);

        Assert.Equal(ReserveResult.InsufficientKeyQuota, outcome.Result);
        Assert.Equal(AccountId.KeyBudget(token), outcome.Account);
        Assert.Equal(0, t.Engine.ReadUser(user)!.ReservedQuotaUnits);
    }

    [Fact]
    public void Reserve_WhenTheLastWindowRefuses_NamesIt_AndLeavesEveryEarlierAccountAsItWas()
    {
        int user = t.User(1_000);
        int token = t.Token(user, 1_000, Policy(1_000), Policy(1_000, PeriodMode.Daily), Policy(50, PeriodMode.Weekly, BoundaryMode.Strict));
        string before = EngineState.Describe(t.Engine, t.NowMs);

        ReserveOutcome outcome = t.Reserve(token, 60);

        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, outcome.Result);
        Assert.Equal(AccountId.Window(token, 2), outcome.Account);
        Assert.Equal(2, outcome.PolicyIndex);
        Assert.Equal(before, EngineState.Describe(t.Engine, t.NowMs));
    }

    [Fact]
    public void Reserve_OfAPausedKey_NamesThePausingWindow()
    {
        int token = t.Token(t.User(), 1_000, Policy(1_000), Policy(50, action: ExhaustedAction.DisableToken));
        t.Settle(t.ReserveOk(token, 50), 50);

        ReserveOutcome outcome = t.Reserve(token, 1);

        Assert.Equal(ReserveResult.KeyPaused, outcome.Result);
        Assert.Equal(AccountId.Window(token, 1), outcome.Account);
    }

    [Fact]
    public void Reserve_WhenAdmitted_NamesNoAccount()
    {
        int token = t.Token(t.User(), 1_000, Policy(1_000));

        Assert.Equal(AccountId.None, t.Reserve(token, 1).Account);
        Assert.Equal(AccountId.None, t.Reserve(999, 1).Account);
    }

    [Fact]
    public void Chain_IsBuiltWhenTheKeyIsSaved_NeverPerRequest()
    {
        int user = t.User();
        int token = t.Token(user, 1_000, Policy(1_000), Policy(1_000, PeriodMode.Daily));
        AdmissionChain chain = t.Engine.FindKey(token)!.Config.Chain;

        for (int i = 0; i < 10; i++)
        {
            t.Settle(t.ReserveOk(token, 5), 5);
        }

        Assert.Same(chain, t.Engine.FindKey(token)!.Config.Chain);
        Assert.Equal(
            [AccountId.Wallet(user), AccountId.KeyBudget(token), AccountId.Window(token, 0), AccountId.Window(token, 1)],
            Ids(chain));

        Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(1_000)] }, t.NowMs).IsOk);

        AdmissionChain saved = t.Engine.FindKey(token)!.Config.Chain;
        Assert.NotSame(chain, saved);
        // A removed position keeps its windows (open reservations may still name them): its link stays, out of service.
        Assert.Equal(4, Ids(saved).Length);
    }

    [Fact]
    public void Settle_FinishesEveryHeldAccountOnce()
    {
        int user = t.User(1_000);
        int token = t.Token(user, 1_000, Policy(1_000), Policy(500, PeriodMode.Daily) with { Metric = PolicyMetric.Requests });
        ReservationId id = t.ReserveOk(token, 80);

        t.Settle(id, 30);
        t.Settle(id, 30); // a repeat changes nothing

        Assert.Equal(new UserView(user, 970, 30, 0), t.Engine.ReadUser(user));
        TokenView key = t.Read(token);
        Assert.Equal((970, 30, 0), (key.RemainQuotaUnits, key.UsedQuotaUnits, key.ReservedQuotaUnits));
        Assert.Equal((30, 0), (key.Policies[0].UsedQuotaUnits, key.Policies[0].ReservedQuotaUnits));
        Assert.Equal((1, 0), (key.Policies[1].UsedQuotaUnits, key.Policies[1].ReservedQuotaUnits));
    }

    [Fact]
    public void AccountId_DefaultIsNone_AndNamesReadably()
    {
        Assert.Equal(AccountId.None, default);
        Assert.Equal(-1, AccountId.None.PolicyIndex);
        Assert.Equal(-1, AccountId.Wallet(3).PolicyIndex);
        Assert.Equal("wallet:3", AccountId.Wallet(3).ToString());
        Assert.Equal("key-budget:7", AccountId.KeyBudget(7).ToString());
        Assert.Equal("window:7:1", AccountId.Window(7, 1).ToString());
        Assert.Equal("none", AccountId.None.ToString());
    }

    private static AccountId[] Ids(AdmissionChain chain)
    {
        var ids = new List<AccountId>();
        foreach (ChainLink link in chain.Links)
        {
            ids.Add(link.Id);
        }

        return [.. ids];
    }
}
