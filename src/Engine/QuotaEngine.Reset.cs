using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Window rollover and manual reset: the cold transitions of a policy. All run under the key's lock and re-check
// their condition inside it. There is one rollover routine for every path — lazy on reserve, the background sweep,
// and manual reset of an overdue window; saves start windows through their plan (QuotaEngine.Save.cs).
// Each transition is one log record, appended before its new window is published.
public sealed partial class QuotaEngine
{
    /// <summary>Records a rollover may append: one per policy (a restore rides on its record).</summary>
    private const int RollRecordsMax = EngineLimits.PoliciesPerKeyMax;
    /// <summary>Stale schedule entries tolerated beyond twice the live ones before a rebuild.</summary>
    private const int ScheduleSlackEntries = 65_536;
    private readonly RolloverSchedule rollovers = new();
    private int scheduledAtRebuild;
    private long rolloverVisits;

    /// <summary>Schedule entries the background rollover has looked at, stale ones included (tests: a tick costs what is due).</summary>
    internal long RolloverVisits => Interlocked.Read(ref rolloverVisits);

    /// <summary>
    /// Rolls every due window (the background rollover; the request path also rolls lazily). It visits the windows the
    /// rollover schedule names as due, not every key: a tick costs the windows that ended since the last one.
    /// </summary>
    public int RollDueWindows(long nowMs)
    {
        CompactScheduleIfStale();
        int rolled = 0;
        while (rollovers.TryTakeDue(nowMs, out long endMs, out int tokenId, out int index))
        {
            Interlocked.Increment(ref rolloverVisits);
            KeyState? key = FindKey(tokenId);
            KeyConfig? config = key?.Config;
            if (config is null || (config.ActiveMask & (1 << index)) == 0 || config.Windows[index]!.Cell.WindowEndMs != endMs)
            {
                continue; // stale: the window ended otherwise (a lazy rollover, a save, a delete), and its successor has its own entry
            }

            if (!deltas.TryPromise(RollRecordsMax))
            {
                rollovers.Add(endMs, tokenId, index); // a full log: kept for the next tick (or the next request rolls it)
                break;
            }

            lock (key!.Gate)
            {
                rolled += RollDueWindowsLocked(key, nowMs);
            }

            deltas.EndPromise(RollRecordsMax);
        }

        return rolled;
    }

    /// <summary>
    /// Puts every window of every key in the rollover schedule, and nothing else: after recovery (replay starts windows
    /// without scheduling them), and when stale entries (saves that moved a window again and again) outgrow the live ones.
    /// </summary>
    private void RebuildSchedule()
    {
        rollovers.Clear();
        int scheduled = 0;
        for (int tokenId = 1; tokenId <= LastTokenId; tokenId++)
        {
            if (FindKey(tokenId) is { } key)
            {
                scheduled += ScheduleWindows(key);
            }
        }

        scheduledAtRebuild = scheduled;
    }

    /// <summary>Rebuilds the schedule when it holds more than twice the entries it held after the last rebuild (amortized O(1) per entry).</summary>
    private void CompactScheduleIfStale()
    {
        if (rollovers.Count > 2 * Volatile.Read(ref scheduledAtRebuild) + ScheduleSlackEntries)
        {
            RebuildSchedule();
        }
    }

    /// <summary>Schedules the end of each window in service of the key's published configuration (a save, a rebuild); returns how many.</summary>
    private int ScheduleWindows(KeyState key)
    {
        KeyConfig config = key.Config;
        int scheduled = 0;
        for (int bits = config.ActiveMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            rollovers.Add(config.Windows[index]!.Cell.WindowEndMs, key.TokenId, index);
            scheduled++;
        }

        return scheduled;
    }

    /// <summary>The request path's lazy rollover; false when the log has no room for it (nothing changed).</summary>
    private bool TryRollDueWindows(KeyState key, long nowMs)
    {
        if (!deltas.TryPromise(RollRecordsMax))
        {
            return false;
        }

        lock (key.Gate)
        {
            RollDueWindowsLocked(key, nowMs);
        }

        deltas.EndPromise(RollRecordsMax);
        return true;
    }

    /// <summary>
    /// Clears the current window's usage of the key's policies (or of one), restoring a key they paused.
    /// An overdue window is rolled first.
    /// </summary>
    public SpecError ResetPolicies(int tokenId, int policyIndex, long nowMs)
    {
        KeyState? key = FindKey(tokenId);
        if (key is null || key.IsDeleted)
        {
            return SpecError.TokenNotFound;
        }

        if (!deltas.TryPromise(2 * EngineLimits.PoliciesPerKeyMax))
        {
            return SpecError.LogFull;
        }

        try
        {
            lock (key.Gate)
            {
                return ResetPoliciesLocked(key, policyIndex, nowMs);
            }
        }
        finally
        {
            deltas.EndPromise(2 * EngineLimits.PoliciesPerKeyMax);
        }
    }

    private SpecError ResetPoliciesLocked(KeyState key, int policyIndex, long nowMs)
    {
        if (key.IsDeleted)
        {
            return SpecError.TokenNotFound;
        }

        int mask = key.Config.ActiveMask;
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
            bool restores = slot.IsPaused;
            // Logged as "usage cleared by this much", an addition that commutes with concurrent settles: the record
            // is appended after the clear, which only frees room (admission never sees more than the log allows).
            long cleared = slot.Cell.ClearUsed();
            deltas.Append(DeltaRecord.ManualReset(key.TokenId, key.User.UserId, index, cleared, restores, nowMs));
            slot.ExhaustedAtMs = 0;
            if (restores)
            {
                Restore(key, slot);
            }

            Emit(AuditAction.ManualReset, key, index, slot, nowMs, TokenStatus.None);
        }

        return SpecError.None;
    }

    private int RollDueWindowsLocked(KeyState key, long nowMs)
    {
        int rolled = 0;
        int mask = key.Config.ActiveMask;
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            if ((mask & (1 << index)) != 0 && nowMs >= key.Slots![index]!.Cell.WindowEndMs)
            {
                RollWindow(key, index, key.Slots[index]!, nowMs);
                rolled++;
            }
        }

        return rolled;
    }

    /// <summary>
    /// The one rollover: the window containing now starts with used = reserved = 0 and exhausted_at cleared
    /// (reservations of the old window no longer count against the new one). A key this policy paused is restored
    /// when auto_resume is on; otherwise it stays paused, its restore record kept, until a manual reset. Under the lock.
    /// </summary>
    private void RollWindow(KeyState key, int index, PolicySlot slot, long nowMs)
    {
        PolicyConfig config = slot.Config;
        Window window = WindowMath.Compute(config.Rule, nowMs);
        ushort generation = NextGeneration(key, index, slot);
        bool restores = slot.IsPaused && config.Spec.AutoResume;
        bool leased = options.LeasedWindows;
        deltas.Append(DeltaRecord.WindowReset(key.TokenId, key.User.UserId, index, generation, config.QuotaUnits, window.StartMs, window.EndMs, leased, restores, nowMs));
        StartGeneration(slot, generation, config.QuotaUnits, window.StartMs, window.EndMs, leased);
        rollovers.Add(window.EndMs, key.TokenId, index);
        if (restores)
        {
            Restore(key, slot);
            Emit(AuditAction.AutoRestoreReset, key, index, slot, nowMs, TokenStatus.Disabled);
        }
    }

    /// <summary>
    /// The generation a window restart takes. Generations are 16 bits, so one that open reservations still name must
    /// never come round again (a stale refund would then change the new window): checked here, cheaply — the slot
    /// remembers the oldest generation that may still be held and rescans the table only when the next one reaches it.
    /// A rollover cannot wrap (65,536 windows of at least a minute outlast any reservation), so for it this asserts;
    /// a save checks first (<see cref="CanStartGeneration"/>) and is refused instead.
    /// </summary>
    private ushort NextGeneration(KeyState key, int index, PolicySlot slot)
    {
        Invariant.Assert(CanStartGeneration(key, index, slot), "a window generation still held by open reservations would come round again");
        return unchecked((ushort)(slot.Cell.Generation + 1));
    }

    private bool CanStartGeneration(KeyState key, int index, PolicySlot slot)
    {
        ushort next = unchecked((ushort)(slot.Cell.Generation + 1));
        if (next != slot.OldestHeldGeneration)
        {
            return true;
        }

        slot.OldestHeldGeneration = reservations.OldestHeldGeneration(key.TokenId, index, slot.Cell.Generation);
        return next != slot.OldestHeldGeneration;
    }

    /// <summary>Starts a window (under the lock, its record appended): exhausted_at cleared before the window is published.</summary>
    private static void StartGeneration(PolicySlot slot, ushort generation, long quotaUnits, long startMs, long endMs, bool leased)
    {
        slot.ExhaustedAtMs = 0; // before the publish: a settle in the new window must find it unmarked
        slot.CloseLease();
        slot.Cell.Reset(generation, quotaUnits, startMs, endMs, leased);
        RaceHooks.Reached(RaceHooks.Point.WindowStartPublished);
    }

    /// <summary>Lifts a policy's pause. The operator status is untouched: a key an operator disabled stays disabled.</summary>
    private static void Restore(KeyState key, PolicySlot slot)
    {
        slot.PausedFromStatus = TokenStatus.None;
        key.Republish();
    }

    private void Emit(AuditAction action, KeyState key, int index, PolicySlot slot, long nowMs, TokenStatus previousStatus) =>
        audit.Record(new AuditEvent(
            action, key.TokenId, key.User.UserId, index, nowMs,
            slot.Cell.Used, slot.Config.QuotaUnits, slot.Cell.WindowEndMs, slot.Cell.WindowStartMs,
            previousStatus, ReservationId.None, 0, slot.Config.Metric));
}
