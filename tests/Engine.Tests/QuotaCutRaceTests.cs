using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// A save that lowers a policy's quota, carrying its window, racing a settle of that window (docs/design.md
/// "Exhaustion, pause and restore"): the save decides "exhausted or not" from the usage it reads, and the settle from the
/// quota it reads. A settle that lands after the save read the usage must see the lower quota, so that one of the two
/// marks the window exhausted (and pauses a disable_token key) — never neither.
/// </summary>
public sealed class QuotaCutRaceTests
{
    [Fact]
    public void ASettleThatExhaustsTheLoweredQuotaWhileTheSaveIsApplied_MarksTheWindowAndPausesTheKey()
    {
        var sink = new RecordingSink();
        var t = new TestEngine(deltas: sink);
        QuotaPolicySpec policy = Policy(100, action: ExhaustedAction.DisableToken);
        int token = t.Token(t.User(), 10_000, policy);
        t.Settle(t.ReserveOk(token, 50), 50);
        ReservationId open = t.ReserveOk(token, 20);

        using var charged = new ManualResetEventSlim();
        FinishResult settled = FinishResult.NotFound;
        var settler = new Thread(() =>
        {
            using IDisposable signal = RaceHook.At(RaceHooks.Point.SettleChargedUnmarked, charged.Set); // charged; now waits for the key's lock
            settled = t.Engine.Settle(open, 20, t.NowMs).Result;
            charged.Set();
        });
        using (RaceHook.At(RaceHooks.Point.SavePlanned, () =>
        {
            // The save has read the usage (50: under 60, not exhausted). Now a settle on another thread charges 20.
            settler.Start();
            Assert.True(charged.Wait(TimeSpan.FromSeconds(10)), "the settle did not charge");
        }))
        {
            Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = [policy with { QuotaUnits = 60 }] }, t.NowMs).IsOk);
        }

        Assert.True(settler.Join(TimeSpan.FromSeconds(10)), "the settle did not finish");
        Assert.Equal(FinishResult.Ok, settled);
        PolicyView view = t.Policy0(token);
        Assert.Equal(70, view.UsedQuotaUnits);
        Assert.NotEqual(0, view.ExhaustedAtMs);
        Assert.True(view.PausesKey, "the window ran out under its lowered quota, and its disable_token policy did not pause the key");
        Assert.Equal(ReserveResult.KeyPaused, t.Reserve(token, 1).Result);
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(EngineState.Describe(t.Engine, t.NowMs), EngineState.Describe(sink.Replay(t.Options), t.NowMs));
    }
}
