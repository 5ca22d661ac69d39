using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Windows;

namespace Quota.Engine.Tests.Properties;

/// <summary>
/// One property per invariant of docs/design.md "Invariants" (10: a reserve racing a save sees one configuration whole).
/// Recovery (5), log prefixes (7), unique ids (8) and finishes
/// that never wait (9) are checked by the model-based run, ReplayTests, CrashTests, ExactnessTests and LogRoomTests.
/// </summary>
public sealed class InvariantProperties
{
    private const int Tests = 150;

    /// <summary>Invariant 1: a strict window never holds more than its quota unless a settle exceeded its estimate;
    /// a graceful window admits only while used + reserved &lt; quota, so at most one admitted request crosses it.</summary>
    [Property(MaxTest = Tests)]
    public Property NeverOverAdmit() => Prop.ForAll(Scenario.Arbitrary(allowOvercharge: false), scenario =>
    {
        var run = new ScenarioRun(scenario);
        var before = new Dictionary<int, PolicyView>();
        run.Run(
            before: op =>
            {
                run.T.Engine.RollDueWindows(run.T.NowMs); // what the reserve would do first
                before[run.TokenFor(op)] = run.T.Policy0(run.TokenFor(op));
            },
            after: (op, result) =>
            {
                // A racing save changes the policy inside the reserve: its window is then judged by the bound below.
                if (result is ReserveOutcome { IsOk: true } && op.Kind == OpKind.Reserve && run.PolicyApplies(run.TokenFor(op)))
                {
                    PolicyView prior = before[run.TokenFor(op)];
                    long held = prior.UsedQuotaUnits + prior.ReservedQuotaUnits;
                    Assert.True(held < scenario.QuotaUnits, $"admitted while used + reserved = {held} ≥ quota");
                    if (scenario.Boundary == BoundaryMode.Strict)
                    {
                        Assert.True(held + run.InMetric(run.TokenFor(op), op.A) <= scenario.QuotaUnits, "strict admitted an estimate that does not fit");
                    }
                }

                foreach (int token in run.Tokens)
                {
                    PolicyView policy = run.T.Policy0(token);
                    long total = policy.UsedQuotaUnits + policy.ReservedQuotaUnits;
                    long bound = scenario.Boundary == BoundaryMode.Strict ? scenario.QuotaUnits : scenario.QuotaUnits - 1 + 1200;
                    Assert.True(total <= bound, $"window holds {total} > {bound}");
                }
            });
        return true;
    });

    /// <summary>Invariant 2: every account's reserved equals its open reservations; each reservation ends exactly once.</summary>
    [Property(MaxTest = Tests)]
    public Property Conservation() => Prop.ForAll(Scenario.Arbitrary(), scenario =>
    {
        var run = new ScenarioRun(scenario);
        var finished = new HashSet<ReservationId>();
        run.Run(after: (op, result) =>
        {
            if (result is FinishOutcome { Result: FinishResult.Ok, Replayed: false } && op.Kind is OpKind.Settle or OpKind.Refund)
            {
                ReservationId id = run.Reservations[op.Target % run.Reservations.Count].Id;
                Assert.True(finished.Add(id), $"reservation {id} finished twice");
            }

            Assert.Empty(ConservationAudit.Check(run.T.Engine));
        });
        run.T.Engine.ExpireDue(long.MaxValue / 2);
        Assert.Empty(ConservationAudit.Check(run.T.Engine));
        Assert.Equal(0, run.T.Engine.ReadUser(run.UserId)!.ReservedQuotaUnits);
        return true;
    });

    /// <summary>Invariant 3: counters never go negative; refunds give back exactly what was reserved, no more.</summary>
    [Property(MaxTest = Tests)]
    public Property NoNegativeCounters_AndRefundsNeverGiveBackMoreThanReserved() => Prop.ForAll(Scenario.Arbitrary(), scenario =>
    {
        var run = new ScenarioRun(scenario);
        long charged = 0;
        run.Run(after: (op, result) =>
        {
            if (result is FinishOutcome { Result: FinishResult.Ok, Replayed: false } finish)
            {
                charged += finish.ChargedUnits;
            }

            foreach (int token in run.Tokens)
            {
                TokenView view = run.T.Read(token);
                Assert.True(view.ReservedQuotaUnits >= 0 && view.UsedQuotaUnits >= 0);
                Assert.True(view.Policies[0].UsedQuotaUnits >= 0 && view.Policies[0].ReservedQuotaUnits >= 0);
            }
        });
        // Refund everything still open: the wallet ends at exactly its start minus what was charged.
        foreach ((ReservationId id, _) in run.Reservations)
        {
            run.T.Refund(id);
        }

        UserView user = run.T.Engine.ReadUser(run.UserId)!;
        Assert.Equal(50_000 - charged - ExpiredCharges(run), user.QuotaUnits);
        Assert.Equal(0, user.ReservedQuotaUnits);
        return true;
    });

    private static long ExpiredCharges(ScenarioRun run) =>
        run.Reservations.Sum(r => run.T.Refund(r.Id) is { Result: FinishResult.AlreadyExpired } e ? e.ChargedUnits : 0);

    /// <summary>Invariant 4: a rejected request leaves every counter and status exactly as it was.</summary>
    [Property(MaxTest = Tests)]
    public Property RejectionsHaveNoSideEffects() => Prop.ForAll(Scenario.Arbitrary(), scenario =>
    {
        var run = new ScenarioRun(scenario);
        string snapshot = "";
        run.Run(
            before: op => snapshot = op.Kind == OpKind.Reserve ? Snapshot(run) : "",
            after: (op, result) =>
            {
                if (op.Kind == OpKind.Reserve && result is ReserveOutcome { IsOk: false })
                {
                    Assert.Equal(snapshot, Snapshot(run));
                }
            });
        return true;
    });

    /// <summary>
    /// Configuration publication (docs/design.md "Invariants"): a reserve with a save of its key run in its middle — the
    /// policy switched to another metric and scope — answers and leaves every account exactly as the save followed by the
    /// reserve does, step after step, and the books balance after each.
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property AReserveRacingASave_IsTheSaveThenTheReserve() => Prop.ForAll(Scenario.Arbitrary(), scenario =>
    {
        var racing = new ScenarioRun(scenario);
        var serial = new ScenarioRun(scenario, serialSaves: true);
        var serialResults = new List<object?>();
        serial.Run(after: (_, result) => serialResults.Add(result));
        int step = 0;
        racing.Run(after: (op, result) =>
        {
            object? expected = serialResults[step++];
            Assert.Equal(Masked(expected), Masked(result));
            Assert.Empty(ConservationAudit.Check(racing.T.Engine));
        });
        Assert.Equal(Accounts(serial), Accounts(racing));
        return true;
    });

    private static object? Masked(object? result) => result is ReserveOutcome reserve ? reserve with { Id = default } : result;

    private static string Accounts(ScenarioRun run) =>
        string.Join("\n", run.Tokens.Select(t => run.T.Read(t) + " " + string.Join(",", run.T.Read(t).Policies))) + run.T.Engine.ReadUser(run.UserId);

    // A rejected reserve may still roll a due window first: that is the reset of time passing, not a side
    // effect of the request, so the snapshot is taken after rolling.
    private static string Snapshot(ScenarioRun run)
    {
        run.T.Engine.RollDueWindows(run.T.NowMs);
        return string.Join("|", run.Tokens.Select(t => run.T.Read(t).ToString() + string.Join(",", run.T.Read(t).Policies)))
            + run.T.Engine.ReadUser(run.UserId);
    }

    /// <summary>Invariant 6: start ≤ now &lt; end; consecutive windows tile time; the answer does not depend on history.</summary>
    [Property(MaxTest = 400)]
    public Property WindowsContainNow_AndTileTime() => Prop.ForAll(WindowCase.Arbitrary, c =>
    {
        var rule = WindowRule.Create(c.Mode, c.CustomMinutes, c.AnchorMs, c.Zone);
        Window window = WindowMath.Compute(rule, c.NowMs);
        long from = Math.Max(c.NowMs, c.AnchorMs);
        Assert.True(window.StartMs <= from && from < window.EndMs, $"{window} does not contain {from}");
        Assert.Equal(window, WindowMath.Compute(rule, window.StartMs));
        Assert.Equal(window, WindowMath.Compute(rule, window.EndMs - 1));
        Assert.Equal(window.EndMs, WindowMath.Compute(rule, window.EndMs).StartMs);
        if (window.StartMs > c.AnchorMs)
        {
            Assert.Equal(window.StartMs, WindowMath.Compute(rule, window.StartMs - 1).EndMs);
        }

        return true;
    });

    /// <summary>
    /// Window math is total over what validation admits: any anchor of the years 2000–2099, any clock (from before the
    /// anchor to past the last instant the engine reasons about), every mode and an exotic zone — never a throw.
    /// </summary>
    [Property(MaxTest = 400)]
    public Property WindowMath_IsTotal_OverEveryValidAnchor() => Prop.ForAll(
        (from mode in Gen.Elements(PeriodMode.Preset5h, PeriodMode.Daily, PeriodMode.Weekly, PeriodMode.Monthly, PeriodMode.Custom)
         from anchor in Gen.OneOf(Gen.Choose(0, 1_000_000).Select(i => WindowRule.AnchorMinMs + (long)((WindowRule.AnchorMaxMs - WindowRule.AnchorMinMs) * (i / 1_000_000.0))),
             Gen.Elements(WindowRule.AnchorMinMs, WindowRule.AnchorMaxMs))
         from zone in Gen.Elements("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns")
         from now in Gen.Elements(long.MinValue, -1L, 0L, WindowRule.AnchorMinMs - 1, anchor, WindowRule.AnchorMaxMs + 1, WindowRule.ClockMaxMs, EngineLimits.TimeMaxMs, long.MaxValue)
         select (mode, anchor, zone, now)).ToArbitrary(),
        c =>
        {
            var rule = WindowRule.Create(c.mode, c.mode == PeriodMode.Custom ? 525_600 : 0, c.anchor, c.zone);
            Window window = WindowMath.Compute(rule, c.now);
            long from = Math.Clamp(c.now, c.anchor, WindowRule.ClockMaxMs);
            Assert.True(window.StartMs <= from && from < window.EndMs, $"{window} does not contain {from}");
            return true;
        });
}

internal sealed record WindowCase(PeriodMode Mode, int CustomMinutes, long AnchorMs, string Zone, long NowMs)
{
    private static readonly string[] Zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns"];

    public static readonly Arbitrary<WindowCase> Arbitrary =
        (from mode in Gen.Elements(PeriodMode.Preset5h, PeriodMode.Daily, PeriodMode.Weekly, PeriodMode.Monthly, PeriodMode.Custom)
         from minutes in Gen.Elements(10, 11, 59, 1440, 525_600)
         from anchorDays in Gen.Choose(0, 3000)
         from anchorSeconds in Gen.Choose(0, 86_399)
         from zone in Gen.Elements(Zones)
         from nowOffsetMinutes in Gen.OneOf(Gen.Choose(-100_000, 2_000_000), Gen.Elements(-1, 0, 1))
         from nowJitterMs in Gen.Elements(-1, 0, 1, 999)
         let anchor = 1_577_836_800_000L + (anchorDays * 86_400_000L) + (anchorSeconds * 1000L)
         select new WindowCase(mode, minutes, anchor, zone, anchor + (nowOffsetMinutes * 60_000L) + nowJitterMs)).ToArbitrary();
}
