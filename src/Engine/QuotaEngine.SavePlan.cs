using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Windows;

namespace Quota.Engine;

// The plan of a save and the one routine that applies it, live and in replay (docs/design.md "Saves").
// Policies are matched by position: the i-th policy sent replaces the i-th stored one and carries its usage over,
// except across an already elapsed window, which restarts first, or to another metric (other units), which starts afresh. A position taken out of service starts an empty
// window (its open reservations then touch nothing), once: a retired position is never restarted again.
public sealed partial class QuotaEngine
{
    /// <summary>Plans every position of a save under the key's lock (or for a new key); changes nothing.</summary>
    private PolicySave?[] PlanPolicies(
        KeyState? key, IReadOnlyList<QuotaPolicySpec> specs, TokenStatus status, long nowMs,
        List<(AuditAction Action, int Index, TokenStatus Previous)> audits, out int failedIndex, out SpecError error)
    {
        var plan = new PolicySave?[EngineLimits.PoliciesPerKeyMax];
        error = SpecError.None;
        failedIndex = -1;
        for (int index = 0; index < plan.Length; index++)
        {
            QuotaPolicySpec? spec = index < specs.Count ? specs[index] : null;
            PolicySlot? slot = key?.Slots?[index];
            if (spec is null && slot is null or { Removed: true })
            {
                continue; // an empty position stays empty
            }

            plan[index] = spec is { Enabled: true }
                ? PlanEnabled(key, index, slot, spec, status, nowMs, audits, out error)
                : PlanRetired(key, index, slot, spec, audits, out error);
            if (error != SpecError.None)
            {
                failedIndex = index;
                return plan;
            }
        }

        return plan;
    }

    /// <summary>A position emptied (<paramref name="spec"/> null) or saved disabled.</summary>
    private PolicySave? PlanRetired(KeyState? key, int index, PolicySlot? slot, QuotaPolicySpec? spec,
        List<(AuditAction Action, int Index, TokenStatus Previous)> audits, out SpecError error)
    {
        error = SpecError.None;
        if (slot is not { IsActive: true })
        {
            return new PolicySave(spec, null, null, 0, slot?.ExhaustedAtMs ?? 0, TokenStatus.None); // already out of service
        }

        if (!CanStartGeneration(key!, index, slot))
        {
            error = SpecError.PolicyRestartedTooOften;
            return null;
        }

        if (slot.IsPaused)
        {
            audits.Add((AuditAction.UpdateRestore, index, TokenStatus.Disabled));
        }

        var empty = new WindowRestart(unchecked((ushort)(slot.Cell.Generation + 1)), 0, 0, 0, options.LeasedWindows);
        return new PolicySave(spec, empty, null, 0, 0, TokenStatus.None);
    }

    /// <summary>A position saved enabled: carry the current window over, or start one; then pause or restore as the usage says.</summary>
    private PolicySave? PlanEnabled(KeyState? key, int index, PolicySlot? slot, QuotaPolicySpec spec, TokenStatus status, long nowMs,
        List<(AuditAction Action, int Index, TokenStatus Previous)> audits, out SpecError error)
    {
        error = SpecError.None;
        Window window = WindowMath.Compute(WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone), nowMs);
        long exhaustedAt = slot?.ExhaustedAtMs ?? 0;
        TokenStatus pausedFrom = slot?.PausedFromStatus ?? TokenStatus.None;
        if (slot is { IsActive: true } && nowMs < slot.Cell.WindowEndMs && slot.Config.Metric == spec.Metric)
        {
            long carried = spec.QuotaUnits - slot.Config.QuotaUnits;
            return Exhaustion(index, spec, status, nowMs, slot.Cell.Used, new PolicySave(
                spec, null, new WindowBounds(window.StartMs, window.EndMs), carried, exhaustedAt, pausedFrom), audits);
        }

        if (slot is not null && !CanStartGeneration(key!, index, slot))
        {
            error = SpecError.PolicyRestartedTooOften;
            return null;
        }

        bool elapsedWindowRolls = slot is { IsActive: true } && slot.Config.Metric == spec.Metric; // else a fresh window
        if (elapsedWindowRolls && slot!.IsPaused && slot.Config.Spec.AutoResume)
        {
            audits.Add((AuditAction.AutoRestoreReset, index, TokenStatus.Disabled)); // the elapsed window rolls first
            pausedFrom = TokenStatus.None;
        }

        var restart = new WindowRestart(unchecked((ushort)((slot?.Cell.Generation ?? 0) + 1)), spec.QuotaUnits, window.StartMs, window.EndMs, options.LeasedWindows);
        return Exhaustion(index, spec, status, nowMs, 0, new PolicySave(spec, restart, null, 0, 0, pausedFrom), audits);
    }

    /// <summary>A disable_token policy that enforces: a shadow policy never pauses the key.</summary>
    private static bool PausesWhenExhausted(QuotaPolicySpec spec) =>
        spec.ExhaustedAction == ExhaustedAction.DisableToken && spec.Enforcement == PolicyEnforcement.Enforce;

    /// <summary>After a save: pause if the new quota is already used up, restore if it now fits.</summary>
    private static PolicySave Exhaustion(int index, QuotaPolicySpec spec, TokenStatus status, long nowMs, long used, PolicySave save,
        List<(AuditAction Action, int Index, TokenStatus Previous)> audits)
    {
        bool paused = save.PausedFromStatus != TokenStatus.None;
        if (used < spec.QuotaUnits)
        {
            if (paused)
            {
                audits.Add((AuditAction.UpdateRestore, index, TokenStatus.Disabled));
            }

            return save with { ExhaustedAtMs = 0, PausedFromStatus = TokenStatus.None };
        }

        save = save with { ExhaustedAtMs = save.ExhaustedAtMs == 0 ? nowMs : save.ExhaustedAtMs };
        bool pauses = PausesWhenExhausted(spec);
        if (pauses && !paused)
        {
            audits.Add((AuditAction.UpdateDisable, index, status));
            return save with { PausedFromStatus = status };
        }

        if (!pauses && paused)
        {
            audits.Add((AuditAction.UpdateRestore, index, TokenStatus.Disabled)); // reject_only never holds a key paused
            return save with { PausedFromStatus = TokenStatus.None };
        }

        return save;
    }

    /// <summary>
    /// Applies a save: live (under the key's lock, after its record was appended) or in replay. The new configuration
    /// becomes visible in one write (<see cref="KeyState.Publish"/>). What the save changes in counters that admission
    /// reads around it is ordered by direction (docs/design.md "Invariants", configuration publication): what takes room
    /// away (a lower budget, or a lower quota: cut before the plan, see CutQuotas) before the publish, what gives room
    /// (a higher one) after it. A reserve judging by the old configuration that saw a later change finds the
    /// configuration replaced and decides again; one judging by the new configuration sees every reduction already, at
    /// worst not yet an increase.
    /// </summary>
    private void ApplySave(KeyState key, TokenSave save, bool live)
    {
        long budgetDelta = save.BudgetDeltaUnits;
        if (!live)
        {
            key.Budget.Credit(budgetDelta);
        }
        else if (budgetDelta < 0)
        {
            key.Budget.PublishBalanceChange(budgetDelta);
        }

        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax && index < save.Policies.Length; index++)
        {
            if (save.Policies[index] is { } policy)
            {
                ApplyPolicySave(SlotFor(key, index), policy, live);
            }
        }

        if (live)
        {
            RaceHooks.Reached(RaceHooks.Point.SavePublishing);
        }

        key.Publish(save.Status, save.UnlimitedQuota, save.ExpiresAtMs, deleted: false);
        if (live)
        {
            RaceHooks.Reached(RaceHooks.Point.SavePublished);
            ScheduleWindows(key); // replay leaves scheduling to the rebuild after recovery (StartRun)
        }

        if (live && budgetDelta > 0)
        {
            key.Budget.PublishBalanceChange(budgetDelta);
        }

        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax && index < save.Policies.Length; index++)
        {
            if (save.Policies[index] is { QuotaDeltaUnits: > 0 } policy)
            {
                key.Slots![index]!.Cell.AdjustQuota(policy.QuotaDeltaUnits);
            }
        }
    }

    /// <summary>One position's part of a save, but a quota increase (applied after the publish) and, live, a cut (applied before the plan).</summary>
    private void ApplyPolicySave(PolicySlot slot, PolicySave policy, bool live)
    {
        if (policy.Spec is { } spec)
        {
            slot.Config = new PolicyConfig(spec, WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone), options.AlertThresholdsPercent);
        }

        slot.Removed = policy.Spec is null;
        if (policy.Restart is { } restart)
        {
            // A new window object, published with the configuration: reserves of the old configuration keep to the old one.
            slot.CloseLease();
            slot.Window = PolicyWindow.Start(restart.Generation, restart.QuotaUnits, restart.StartMs, restart.EndMs, restart.Leased);
        }
        else if (policy.Move is { } move)
        {
            if (slot.Cell.IsLeased && move.StartMs != slot.Cell.WindowStartMs)
            {
                // The authority keys the window by its start: its book (usage and every node's lease) moves with it.
                long fromStartMs = slot.PendingMove?.FromStartMs ?? slot.Cell.WindowStartMs;
                slot.PendingMove = new LeaseMove(fromStartMs, move.StartMs, move.EndMs);
            }

            slot.Cell.MoveWindow(move.StartMs, move.EndMs);
        }

        if (policy.QuotaDeltaUnits < 0 && !live)
        {
            slot.Cell.AdjustQuota(policy.QuotaDeltaUnits); // live, CutQuotas made it before planning
        }

        slot.ExhaustedAtMs = policy.ExhaustedAtMs;
        bool wasPaused = slot.IsPaused;
        slot.PausedFromStatus = policy.PausedFromStatus;
        if (!wasPaused && slot.IsPaused)
        {
            slot.PausedGeneration = slot.Cell.Generation;
        }
    }
}
