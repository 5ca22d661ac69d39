using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

// Settle, refund and expire: the three ways a reservation ends, each exactly once (DESIGN.md §4, invariant 2).
// Whoever moves the record Open → Finishing applies it; every later call replies from the record.
public sealed partial class QuotaEngine
{
    /// <summary>Releases the reservation and charges <paramref name="actualUnits"/> on every account it holds.</summary>
    public FinishOutcome Settle(ReservationId id, long actualUnits, long nowMs)
    {
        if (actualUnits is < 0 or > EngineLimits.AmountMaxUnits)
        {
            return new FinishOutcome(FinishResult.InvalidAmount, 0, false, false);
        }

        ReservationState state = reservations.TryBeginFinish(id, out int slot);
        if (state != ReservationState.Finishing)
        {
            return Replay(id, state, slot, ReservationState.Settled);
        }

        ref ReservationRecord record = ref reservations[slot];
        bool exhausted = Charge(ref record, actualUnits, nowMs, live: true);
        record.ChargedUnits = actualUnits;
        record.Exhausted = exhausted;
        // Appended before the record completes: its slot cannot be reused (and logged) before this.
        deltas.Append(new DeltaRecord(DeltaKind.Settle, record.TokenId, record.UserId, -1, id.Value, record.AmountUnits, actualUnits, nowMs, exhausted ? 1 : 0));
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
        record.Exhausted = false;
        deltas.Append(new DeltaRecord(DeltaKind.Refund, record.TokenId, record.UserId, -1, id.Value, record.AmountUnits, 0, nowMs, 0));
        reservations.Complete(slot, ReservationState.Refunded);
        return new FinishOutcome(FinishResult.Ok, 0, false, false);
    }

    /// <summary>
    /// Settles every open reservation whose TTL has passed at its reserved amount, and logs it.
    /// A background loop calls this about once a second; it scans the table without allocating.
    /// </summary>
    public int ExpireDue(long nowMs)
    {
        int expired = 0;
        for (int slot = 0; slot < reservations.Capacity; slot++)
        {
            if (!reservations.TryBeginExpire(slot, nowMs, out uint sequence))
            {
                continue;
            }

            ref ReservationRecord record = ref reservations[slot];
            bool exhausted = Charge(ref record, record.AmountUnits, nowMs, live: true);
            record.ChargedUnits = record.AmountUnits;
            record.Exhausted = exhausted;
            var id = ReservationId.From(slot, sequence);
            deltas.Append(new DeltaRecord(DeltaKind.Expire, record.TokenId, record.UserId, -1, id.Value, record.AmountUnits, record.AmountUnits, nowMs, exhausted ? 1 : 0));
            reservations.Complete(slot, ReservationState.Expired);
            audit.Record(new AuditEvent(
                AuditAction.ReservationExpired, record.TokenId, record.UserId, -1, nowMs, 0, 0, 0, 0, TokenStatus.None, id, record.AmountUnits));
            expired++;
        }

        return expired;
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
        long word = reservations.StateWordOf(slot);
        if (ReservationTable.SequenceOf(word) != id.Sequence)
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
    /// Charges a finishing reservation on each account; returns whether any of its windows is now exhausted.
    /// Live, a first exhaustion is marked (and may pause the key); in replay those have records of their own.
    /// </summary>
    private bool Charge(ref ReservationRecord record, long charged, long nowMs, bool live)
    {
        KeyState? key = FindKey(record.TokenId);
        Invariant.Assert(key is not null, "a reservation always names an existing key");
        long amount = record.AmountUnits;
        key!.User.Wallet.Charge(amount, charged);
        key.Budget.Charge(amount, charged);

        bool exhausted = false;
        for (int bits = record.PolicyMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicySlot slot = key.Slots![index]!;
            ushort generation = record.GenerationOf(index);
            // A window that rolled over since the reserve is not touched: the charge stays in the lifetime totals.
            if (!slot.Cell.Charge(generation, amount, charged, out long usedAfter) || usedAfter < slot.Config.QuotaUnits)
            {
                continue;
            }

            exhausted = true;
            if (live && Volatile.Read(ref slot.ExhaustedAtMs) == 0)
            {
                MarkExhausted(key, index, generation, nowMs);
            }
        }

        return exhausted;
    }

    internal void Release(ref ReservationRecord record)
    {
        KeyState? key = FindKey(record.TokenId);
        Invariant.Assert(key is not null, "a reservation always names an existing key");
        ReleaseHolds(key!, record.AmountUnits, record.PolicyMask, record.Generations);
    }
}
