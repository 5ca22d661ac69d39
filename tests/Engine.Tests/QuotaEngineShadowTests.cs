using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// Shadow policies (docs/design.md "Shadow policies"): they judge every request like an enforcing policy, refuse none,
/// never pause the key, count exactly the requests they would have refused, and become enforcing by an edit that keeps
/// the window's usage. The count survives a restart (log replay and snapshot).
/// </summary>
public sealed class QuotaEngineShadowTests
{
    private static QuotaPolicySpec Shadow(long quota, ExhaustedAction action = ExhaustedAction.RejectOnly, BoundaryMode boundary = BoundaryMode.Graceful) =>
        Policy(quota, boundary: boundary, action: action) with { Enforcement = PolicyEnforcement.Shadow };

    [Fact]
    public void AShadowPolicy_AdmitsEveryRequest_AndCountsExactlyThoseItWouldHaveRefused()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Shadow(100, ExhaustedAction.DisableToken));

        for (int i = 0; i < 5; i++)
        {
            t.Settle(t.ReserveOk(token, 40), 40); // 0, 40, 80 fit (graceful: 80 < 100 admits); 120 and on would be refused
        }

        PolicyView view = t.Policy0(token);
        Assert.Equal((120L, 2L, false), (view.UsedQuotaUnits, view.ShadowRefusals, view.PausesKey));
        Assert.Equal(2, t.Engine.ShadowRefusalCount);
        Assert.Equal(5 * 40, t.Read(token).UsedQuotaUnits); // every request was admitted and charged on the key
        // Logged once per window; the exact count is the window's.
        Assert.Equal([(AuditAction.ShadowRefusal, 0, 120L)], t.Audit.For(token).Select(e => (e.Action, e.PolicyIndex, e.UsedQuotaUnits)));
    }

    [Fact]
    public void AStrictShadowPolicy_CountsAnEstimateTooLarge_AndAdmitsASmallerOneThatFits()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Shadow(100, boundary: BoundaryMode.Strict));

        t.Settle(t.ReserveOk(token, 70), 70);
        t.Settle(t.ReserveOk(token, 50), 50); // would not fit: counted, not held in the window
        t.Settle(t.ReserveOk(token, 30), 30); // fits

        Assert.Equal((100L, 1L), (t.Policy0(token).UsedQuotaUnits, t.Policy0(token).ShadowRefusals));
    }

    [Fact]
    public void ARefusalByAnEnforcingPolicy_IsNotAShadowRefusal()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Shadow(10), Policy(10));
        t.Settle(t.ReserveOk(token, 10), 10); // both windows now full

        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 5).Result);
        Assert.Equal(1, t.Reserve(token, 5).PolicyIndex);
        Assert.Equal(0, t.Policy0(token).ShadowRefusals);
    }

    [Fact]
    public void MakingItEnforcing_KeepsTheWindowsUsage_AndThenRefuses()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Shadow(100));
        t.Settle(t.ReserveOk(token, 90), 90);
        t.Settle(t.ReserveOk(token, 20), 20);
        Assert.Equal(ReserveResult.Ok, t.Reserve(token, 5).Result); // shadow: admitted (and held open)

        Assert.Equal(SpecError.None, t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(100)] }, t.NowMs).Error);

        Assert.Equal(110, t.Policy0(token).UsedQuotaUnits);
        Assert.Equal(1, t.Policy0(token).ShadowRefusals); // the window's count stays with the window
        Assert.Equal(ReserveResult.PolicyExhausted, t.Reserve(token, 5).Result);
    }

    [Fact]
    public void ADisableTokenPolicyMadeShadow_LiftsItsPause()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Policy(100, action: ExhaustedAction.DisableToken));
        t.Settle(t.ReserveOk(token, 100), 100);
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(token, 1).Result);

        t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Shadow(100, ExhaustedAction.DisableToken)] }, t.NowMs);

        Assert.Equal(ReserveResult.Ok, t.Reserve(token, 1).Result);
        Assert.Equal(1, t.Policy0(token).ShadowRefusals);
    }

    [Fact]
    public void TheCount_StartsAgainWithTheNextWindow()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Shadow(10));
        t.Settle(t.ReserveOk(token, 10), 10);
        t.Settle(t.ReserveOk(token, 10), 10);
        Assert.Equal(1, t.Policy0(token).ShadowRefusals);

        t.Advance(TimeSpan.FromHours(5));
        t.Settle(t.ReserveOk(token, 10), 10);
        t.Settle(t.ReserveOk(token, 10), 10);

        Assert.Equal(1, t.Policy0(token).ShadowRefusals);
        Assert.Equal(2, t.Audit.For(token).Count(e => e.Action == AuditAction.ShadowRefusal)); // once per window
    }

    [Fact]
    public async Task TheModeAndTheCount_SurviveARestart_ByReplayAndBySnapshot()
    {
        using var directory = new TempDirectory();
        var options = new PersistenceOptions
        {
            DataDir = directory.Path,
            CheckpointInterval = TimeSpan.FromHours(1),
            Engine = new EngineOptions { KeysMax = 16, UsersMax = 8, ReservationsMax = 256 },
        };
        int token;
        await using (PersistentEngine first = PersistentEngine.Open(options))
        {
            QuotaEngine engine = first.Engine;
            token = engine.CreateToken(new TokenSpec { UserId = engine.CreateUser(10_000).Id, RemainQuotaUnits = 10_000, Policies = [Shadow(50)] }, engine.NowMs).Id;
            for (int i = 0; i < 4; i++)
            {
                ReserveOutcome r = engine.Reserve(token, 30, engine.NowMs);
                Assert.True(r.IsOk);
                engine.Settle(r.Id, 30, engine.NowMs);
            }

            await first.CloseWithoutCheckpointAsync(); // the next open replays the log
        }

        await using (PersistentEngine second = PersistentEngine.Open(options))
        {
            AssertShadow(second.Engine.ReadToken(token, second.Engine.NowMs)!);
            await second.CheckpointAsync(); // the next open reads a snapshot
        }

        await using PersistentEngine third = PersistentEngine.Open(options);
        AssertShadow(third.Engine.ReadToken(token, third.Engine.NowMs)!);

        static void AssertShadow(TokenView view) =>
            Assert.Equal((PolicyEnforcement.Shadow, 60L, 2L), (view.Policies[0].Spec.Enforcement, view.Policies[0].UsedQuotaUnits, view.Policies[0].ShadowRefusals));
    }

    [Fact]
    public void AnUndefinedEnforcement_IsRefused_NamingThePolicy()
    {
        var t = new TestEngine();
        int user = t.User();
        SaveOutcome outcome = t.Engine.CreateToken(
            new TokenSpec { UserId = user, Policies = [Policy(10), Policy(10) with { Enforcement = (PolicyEnforcement)7 }] }, t.NowMs);
        Assert.Equal((SpecError.PolicyEnforcementInvalid, 1), (outcome.Error, outcome.PolicyIndex));
    }
}
