using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Window rollover, exhaustion, pause and restore, manual reset: the cold transitions of a policy.
// All run under the key's lock and re-check their condition inside it (fixes W9). There is one reset
// routine for every path — lazy on reserve, the background sweep, saving, manual reset (fixes W6).
public sealed partial class QuotaEngine
{
    /// <summary>Rolls every due window of every key (the background sweep; the request path also rolls lazily).</summary>
    public int RollDueWindows(long nowMs)
    {
        int rolled = 0;
        int last = LastTokenId;
        for (int tokenId = 1; tokenId <= last && deltas.HasCapacity; tokenId++) // a full log: the rest rolls lazily or next time
        {
            KeyState? key = FindKey(tokenId);
            int mask = key is null ? 0 : Volatile.Read(ref key.ActiveMask);
            if (mask != 0 && AnyWindowDue(key!, mask, nowMs))
            {
                rolled += RollDueWindows(key!, nowMs);
            }
        }

        return rolled;
    }

    /// <summary>
    /// Clears the current window's usage of the key's policies (or of one), restoring a key they paused.
    /// An overdue window is rolled first (fixes W21).
    /// </summary>
    public SpecError ResetPolicies(int tokenId, int policyIndex, long nowMs)
    {
        KeyState? key = FindKey(tokenId);
        if (key is null || key.IsDeleted)
        {
            return SpecError.TokenNotFound;
        }

        lock (key.Gate)
        {
            int mask = Volatile.Read(ref key.ActiveMask);
            if (policyIndex >= 0)
            {
                mask &= policyIndex < EngineLimits.PoliciesPerKeyMax ? 1 << policyIndex : 0;
            }

            if (mask == 0)
            {
                return SpecError.PolicyNotFound;
            }

            RollDueWindowsLocked(key, nowMs);
            for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
            {
                if ((mask & (1 << index)) == 0)
                {
                    continue;
                }

                PolicySlot slot = key.Slots![index]!;
                // Logged as "usage cleared by this much", an addition that commutes with concurrent settles.
                long cleared = slot.Cell.ClearUsed();
                slot.ExhaustedAtMs = 0;
                deltas.Append(new DeltaRecord(DeltaKind.ManualReset, tokenId, key.User.UserId, index, 0, cleared, 0, nowMs, 0));
                if (slot.IsPaused)
                {
                    Restore(key, index, slot, nowMs, action: null);
                }

                Emit(AuditAction.ManualReset, key, index, slot, nowMs, TokenStatus.None);
            }
        }

        return SpecError.None;
    }

    private int RollDueWindows(KeyState key, long nowMs)
    {
        lock (key.Gate)
        {
            return RollDueWindowsLocked(key, nowMs);
        }
    }

    private int RollDueWindowsLocked(KeyState key, long nowMs)
    {
        int rolled = 0;
        int mask = Volatile.Read(ref key.ActiveMask);
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            if ((mask & (1 << index)) != 0 && nowMs >= key.Slots![index]!.Cell.WindowEndMs)
            {
                ResetWindow(key, index, key.Slots[index]!, nowMs);
                rolled++;
            }
        }

        return rolled;
    }

    /// <summary>
    /// The one reset routine: the window containing now starts with used = reserved = 0 and exhausted_at cleared
    /// (reservations of the old window no longer count against the new one). A key this policy paused is
    /// restored when auto_resume is on; otherwise it stays paused, its restore record kept, until a manual reset
    /// (fixes W7). Under the key's lock.
    /// </summary>
    private void ResetWindow(KeyState key, int index, PolicySlot slot, long nowMs)
    {
        PolicyConfig config = slot.Config;
        StartGeneration(key, index, slot, config.QuotaUnits, WindowMath.Compute(config.Rule, nowMs), nowMs);
        if (slot.IsPaused && config.Spec.AutoResume)
        {
            Restore(key, index, slot, nowMs, AuditAction.AutoRestoreReset);
        }
    }

    /// <summary>
    /// Starts a new generation of the slot's window: counters zero, headroom = quota. The record is appended before
    /// the new generation is published, so nothing tagged with it can reach the log ahead of it. Under the lock.
    /// </summary>
    private void StartGeneration(KeyState key, int index, PolicySlot slot, long quotaUnits, Window window, long nowMs)
    {
        ushort generation = unchecked((ushort)(slot.Cell.Generation + 1));
        deltas.Append(new DeltaRecord(
            DeltaKind.WindowReset, key.TokenId, key.User.UserId, index, 0, window.StartMs, window.EndMs, nowMs, (quotaUnits << 16) | generation));
        slot.Cell.Reset(generation, quotaUnits, 0, 0, window.StartMs, window.EndMs);
        slot.ExhaustedAtMs = 0;
    }

    /// <summary>Sets exhausted_at and logs the change (under the lock).</summary>
    private void SetExhaustedAt(KeyState key, int index, PolicySlot slot, long atMs)
    {
        if (slot.ExhaustedAtMs != atMs)
        {
            deltas.Append(new DeltaRecord(DeltaKind.ExhaustedAt, key.TokenId, key.User.UserId, index, 0, 0, 0, atMs, 0));
            slot.ExhaustedAtMs = atMs;
        }
    }

    /// <summary>Records the first exhaustion of a window and, for disable_token, pauses the key (seed §4.2, R2, W9).</summary>
    internal void MarkExhausted(KeyState key, int index, ushort generation, long nowMs)
    {
        lock (key.Gate)
        {
            PolicySlot slot = key.Slots![index]!;
            PolicyConfig config = slot.Config;
            bool stillThisWindow = (Volatile.Read(ref key.ActiveMask) & (1 << index)) != 0 && slot.Cell.Generation == generation;
            if (!stillThisWindow || slot.ExhaustedAtMs != 0 || slot.Cell.Used < config.QuotaUnits)
            {
                return;
            }

            SetExhaustedAt(key, index, slot, nowMs);
            if (config.Spec.ExhaustedAction == ExhaustedAction.DisableToken && !slot.IsPaused)
            {
                Pause(key, index, slot, nowMs, AuditAction.ExhaustedDisable);
            }
        }
    }

    /// <summary>Pauses the key for this policy, recording its status once (never overwritten, R2). Under the lock.</summary>
    private void Pause(KeyState key, int index, PolicySlot slot, long nowMs, AuditAction action)
    {
        Invariant.Assert(!slot.IsPaused, "a policy pauses a key at most once until restored");
        TokenStatus original = key.OperatorStatus;
        deltas.Append(new DeltaRecord(DeltaKind.Pause, key.TokenId, key.User.UserId, index, 0, 0, 0, nowMs, (long)original));
        slot.PausedFromStatus = original;
        slot.PausedGeneration = slot.Cell.Generation;
        key.PublishStatus(original, key.IsDeleted);
        Emit(action, key, index, slot, nowMs, original);
    }

    /// <summary>
    /// Lifts this policy's pause. The operator status is untouched, so a key an operator disabled stays disabled
    /// (R10). Under the lock.
    /// </summary>
    private void Restore(KeyState key, int index, PolicySlot slot, long nowMs, AuditAction? action)
    {
        deltas.Append(new DeltaRecord(DeltaKind.Restore, key.TokenId, key.User.UserId, index, 0, 0, 0, nowMs, 0));
        slot.PausedFromStatus = TokenStatus.None;
        key.PublishStatus(key.OperatorStatus, key.IsDeleted);
        if (action is { } logged)
        {
            Emit(logged, key, index, slot, nowMs, TokenStatus.Disabled);
        }
    }

    private void Emit(AuditAction action, KeyState key, int index, PolicySlot slot, long nowMs, TokenStatus previousStatus) =>
        audit.Record(new AuditEvent(
            action, key.TokenId, key.User.UserId, index, nowMs,
            slot.Cell.Used, slot.Config.QuotaUnits, slot.Cell.WindowEndMs, slot.Cell.WindowStartMs,
            previousStatus, ReservationId.None, 0));
}
