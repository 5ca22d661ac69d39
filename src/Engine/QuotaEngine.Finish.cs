using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

// Settle, refund and expire: the three ways a reservation ends, each exactly once (invariant 2), each one log record
// (invariant 9: the ring always has room for it, so a finish never waits and is never refused).
// Whoever moves the record Open → Finishing applies it; every later call replies from the record.
public sealed partial class QuotaEngine
{
    /// <summary>Settles with the actual cost; tokens policies are charged the reservation's token estimate.</summary>
    public FinishOutcome Settle(ReservationId id, long actualUnits, long nowMs) => Settle(id, actualUnits, actualTokens: -1, nowMs);

    /// <summary>
    /// Releases the reservation and charges each account it holds its actual, in its metric: <paramref name="actualUnits"/>
    /// on the wallet, the key budget and quota policies; <paramref name="actualTokens"/> on tokens policies (-1: the
    /// estimate); one request on requests policies.
    /// </summary>
    public FinishOutcome Settle(ReservationId id, long actualUnits, long actualTokens, long nowMs)
    {
        if (actualUnits is < 0 or > EngineLimits.AmountMaxUnits || actualTokens is < -1 or > EngineLimits.TokensMax)
        {
            return new FinishOutcome(FinishResult.InvalidAmount, 0, false, false);
        }

        ReservationState state = reservations.TryBeginFinish(id, out int slot);
        if (state != ReservationState.Finishing)
        {
            return Replay(id, state, slot, ReservationState.Settled);
        }

        ref ReservationRecord record = ref reservations[slot];
        bool exhausted = ChargeAndLog(ref record, id, actualUnits, actualTokens < 0 ? record.TokenUnits : actualTokens, nowMs, expired: false);
        reservations.Complete(slot, ReservationState.Settled);
        return new FinishOutcome(FinishResult.Ok, actualUnits, exhausted, false);
    }

    /// <summary>Releases the reservation without charging anything.</summary>
    public FinishOutcome Refund(ReservationId id, long nowMs)
    {
        ReservationState state = reservations.TryBeginFinish(id, out int slot);
        if (state != ReservationState.Finishing)
        {
            return Replay(id, state, slot, ReservationState.Refunded);
        }

        ref ReservationRecord record = ref reservations[slot];
        Release(ref record);
        record.ChargedUnits = 0;
        record.ChargedTokens = 0;
        record.Exhausted = false;
        // Appended before the record completes: its slot cannot be reused (and logged) before this.
        deltas.Append(DeltaRecord.Refund(id, record.TokenId, record.UserId, record.AmountUnits, nowMs));
        reservations.Complete(slot, ReservationState.Refunded);
        return new FinishOutcome(FinishResult.Ok, 0, false, false);
    }

    /// <summary>
    /// Settles every open reservation whose TTL has passed at its reserved amount, and logs it. A background loop calls
    /// this about once a second; it looks only into the groups of the table whose earliest expiry has come (one read per
    /// group of 64 records otherwise), so it costs what is due, without allocating.
    /// </summary>
    public int ExpireDue(long nowMs)
    {
        int expired = 0;
        for (int group = 0; group < reservations.ExpiryGroups; group++)
        {
            if (reservations.EarliestExpiryOf(group) > nowMs)
            {
                continue;
            }

            reservations.TakeEarliestExpiry(group);
            Interlocked.Increment(ref expiryGroupsOpened);
            long next = long.MaxValue;
            int first = ReservationTable.FirstSlotOf(group);
            for (int slot = first; slot < first + ReservationTable.ExpiryGroupSlots; slot++)
            {
                if (reservations.TryBeginExpire(slot, nowMs, out ReservationId id))
                {
                    Expire(slot, id, nowMs);
                    expired++;
                    continue;
                }

                next = Math.Min(next, PendingExpiry(slot, nowMs));
            }

            reservations.LowerEarliestExpiry(group, next);
        }

        return expired;
    }

    private long expiryGroupsOpened;

    /// <summary>Groups of the reservation table the expiry sweep has looked into (tests: a sweep costs what is due).</summary>
    internal long ExpiryGroupsOpened => Interlocked.Read(ref expiryGroupsOpened);

    /// <summary>When the record in <paramref name="slot"/> may next need the sweep: its expiry if open, now if it is in a transition, never if ended.</summary>
    private long PendingExpiry(int slot, long nowMs) => ReservationTable.StateOf(reservations.StateWordOf(slot)) switch
    {
        ReservationState.Open => Volatile.Read(ref reservations[slot].ExpiresAtMs),
        ReservationState.Claimed or ReservationState.Finishing => nowMs, // a reserve or a keep-alive is moments from an expiry: look again next time
        _ => long.MaxValue,
    };

    private void Expire(int slot, ReservationId id, long nowMs)
    {
        ref ReservationRecord record = ref reservations[slot];
        ChargeAndLog(ref record, id, record.AmountUnits, record.TokenUnits, nowMs, expired: true);
        reservations.Complete(slot, ReservationState.Expired);
        audit.Record(new AuditEvent(
            AuditAction.ReservationExpired, record.TokenId, record.UserId, -1, nowMs, 0, 0, 0, 0, TokenStatus.None, id, record.AmountUnits));
    }

    /// <summary>The reply to a finish call that did not win the record: idempotent repeat, conflict or unknown.</summary>
    private FinishOutcome Replay(ReservationId id, ReservationState state, int slot, ReservationState wanted)
    {
        if (state == ReservationState.Free)
        {
            return new FinishOutcome(FinishResult.NotFound, 0, false, false);
        }

        ref ReservationRecord record = ref reservations[slot];
        long charged = record.ChargedUnits;
        bool exhausted = record.Exhausted;
        // The record may be recycled while we read it: only a still-matching id makes the numbers valid.
        if (!reservations.Holds(slot, id, reservations.StateWordOf(slot)))
        {
            return new FinishOutcome(FinishResult.NotFound, 0, false, false);
        }

        if (state == wanted)
        {
            return new FinishOutcome(FinishResult.Ok, charged, exhausted, true);
        }

        FinishResult conflict = state switch
        {
            ReservationState.Settled => FinishResult.AlreadySettled,
            ReservationState.Refunded => FinishResult.AlreadyRefunded,
            _ => FinishResult.AlreadyExpired,
        };
        return new FinishOutcome(conflict, charged, exhausted, false);
    }

    /// <summary>
    /// Charges a finishing reservation on each of its accounts and appends its one record; returns whether any of its
    /// windows is now exhausted. A first exhaustion of a window is marked (and, for disable_token, pauses the key)
    /// under the key's lock, where the record is appended before the marks are published.
    /// </summary>
    private bool ChargeAndLog(ref ReservationRecord record, ReservationId id, long charged, long chargedTokens, long nowMs, bool expired)
    {
        KeyState key = KeyOf(ref record);
        record.ChargedUnits = charged;
        record.ChargedTokens = chargedTokens;
        int exhaustedMask = ChargeAccounts(key, ref record, nowMs, out int unmarkedMask);
        record.Exhausted = exhaustedMask != 0;
        if (unmarkedMask == 0)
        {
            deltas.Append(DeltaRecord.Settle(id, record.TokenId, record.UserId, charged, chargedTokens, nowMs, record.Exhausted, default, expired));
            return record.Exhausted;
        }

        RaceHooks.Reached(RaceHooks.Point.SettleChargedUnmarked);
        lock (key.Gate)
        {
            SettleMarks marks = DecideMarks(key, ref record, unmarkedMask);
            deltas.Append(DeltaRecord.Settle(id, record.TokenId, record.UserId, charged, chargedTokens, nowMs, record.Exhausted, marks, expired));
            ApplyMarks(key, marks, nowMs, live: true);
        }

        return record.Exhausted;
    }

    /// <summary>
    /// The counter half of a finish: wallet, key budget and every policy window the reservation was made in (a window
    /// that rolled over since is not touched; the charge stays in the lifetime totals). Returns the policies now
    /// exhausted; <paramref name="unmarkedMask"/> those of them whose window has no exhaustion mark yet. The actuals are
    /// the record's <c>ChargedUnits</c> and <c>ChargedTokens</c>. A charge that crosses an alert threshold emits it at
    /// <paramref name="alertAtMs"/> (-1: none; replay passes -1 except in a start-up recovery, see EmitAlertsInReplay).
    /// </summary>
    private int ChargeAccounts(KeyState key, ref ReservationRecord record, long alertAtMs, out int unmarkedMask)
    {
        long amount = record.AmountUnits, charged = record.ChargedUnits;
        int exhaustedMask = 0;
        unmarkedMask = 0;
        KeyConfig published = key.Config; // a window and the rules it was filled by come from one configuration
        foreach (ref readonly ChainLink link in published.Chain.Links)
        {
            switch (link.Id.Kind)
            {
                case AccountKind.Wallet:
                    ChargeWallet(key, amount, charged, alertAtMs);
                    break;
                case AccountKind.KeyBudget:
                    key.Budget.Charge(amount, charged);
                    break;
                default:
                    exhaustedMask |= ChargeWindow(key, in link, ref record, alertAtMs, ref unmarkedMask);
                    break;
            }
        }

        return exhaustedMask;
    }

    private void ChargeWallet(KeyState key, long amount, long charged, long alertAtMs)
    {
        long balanceAfter = key.User.Wallet.Charge(amount, charged);
        if (key.User.Alerts is { } wallet && wallet.BaseUnits - balanceAfter >= wallet.FromUnits && alertAtMs >= 0 && (!alertsInReplay || alertAtMs > wallet.SinceMs))
        {
            AlertWallet(key, wallet, balanceAfter, charged, alertAtMs);
        }
    }

    /// <summary>Charges a window link if the reservation holds it; returns its bit if the window is now exhausted.</summary>
    private int ChargeWindow(KeyState key, in ChainLink link, ref ReservationRecord record, long alertAtMs, ref int unmarkedMask)
    {
        int index = link.Id.PolicyIndex;
        if ((record.PolicyMask & (1 << index)) == 0)
        {
            return 0;
        }

        PolicyConfig config = link.Policy!;
        PolicyWindow window = link.PolicyWindow!;
        long held = config.InMetric(record.AmountUnits, record.TokenUnits), actual = config.InMetric(record.ChargedUnits, record.ChargedTokens);
        if (!window.Cell.Charge(record.GenerationOf(index), held, actual, out long usedAfter))
        {
            return 0;
        }

        if (usedAfter >= config.Alerts.FromUnits && alertAtMs >= 0)
        {
            AlertPolicy(key, index, window, config, usedAfter, actual, alertAtMs);
        }

        if (usedAfter < window.Cell.QuotaUnits) // the window's own quota: a save cuts it before it plans (CutQuotas)
        {
            return 0;
        }

        unmarkedMask |= Volatile.Read(ref key.Slots![index]!.ExhaustedAtMs) == 0 ? 1 << index : 0;
        return config.Shadow ? 0 : 1 << index; // a shadow policy's reply never says "exhausted"
    }

    /// <summary>Under the key's lock: which windows this finish marks exhausted first, and which of them pause the key.</summary>
    private static SettleMarks DecideMarks(KeyState key, ref ReservationRecord record, int candidates)
    {
        int exhausted = 0, paused = 0;
        int active = key.Config.ActiveMask;
        for (int bits = candidates; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicySlot slot = key.Slots![index]!;
            bool stillThisWindow = (active & (1 << index)) != 0 && slot.Cell.Generation == record.GenerationOf(index);
            if (!stillThisWindow || slot.ExhaustedAtMs != 0 || slot.Cell.Used < slot.Config.QuotaUnits)
            {
                continue;
            }

            exhausted |= 1 << index;
            paused |= PausesWhenExhausted(slot.Config.Spec) && !slot.IsPaused ? 1 << index : 0;
        }

        return new SettleMarks(exhausted, paused, paused != 0 ? key.OperatorStatus : TokenStatus.None);
    }

    /// <summary>Publishes a finish's marks (live under the key's lock, or in replay): exhausted_at, then the pauses (the status a pause records is never overwritten).</summary>
    private void ApplyMarks(KeyState key, in SettleMarks marks, long atMs, bool live)
    {
        for (int bits = marks.ExhaustedMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicySlot slot = key.Slots![index]!;
            slot.ExhaustedAtMs = atMs;
            if ((marks.PausedMask & (1 << index)) == 0)
            {
                continue;
            }

            Invariant.Assert(!slot.IsPaused, "a policy pauses a key at most once until restored");
            slot.PausedFromStatus = marks.PausedFromStatus;
            slot.PausedGeneration = slot.Cell.Generation;
            key.Republish();
            if (live)
            {
                Emit(AuditAction.ExhaustedDisable, key, index, slot, atMs, marks.PausedFromStatus);
            }
        }
    }

    internal void Release(ref ReservationRecord record)
    {
        KeyState key = KeyOf(ref record);
        key.Config.Chain.Release(record.AmountUnits, record.TokenUnits, record.PolicyMask, record.Generations);
    }

    private KeyState KeyOf(ref ReservationRecord record)
    {
        KeyState? key = FindKey(record.TokenId);
        Invariant.Assert(key is not null, "a reservation always names an existing key");
        return key!;
    }
}
