using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Replay: applies one delta record's effect to the engine, during recovery only (single-threaded, before the
// engine serves). Records are effects, not requests: nothing is re-checked, no audit event is emitted, and no
// record is appended. See DeltaRecord for why log order reproduces the live state.
public sealed partial class QuotaEngine
{
    private static readonly PolicyConfig PendingConfig = new(
        new QuotaPolicySpec { Enabled = false, AnchorMs = 1 }, WindowRule.Create(PeriodMode.Daily, 0, 1, "UTC"));

    internal void Apply(in DeltaRecord record, ReadOnlySpan<byte> payload)
    {
        switch (record.Kind)
        {
            case DeltaKind.UserCredit:
                UserFor(record.UserId).Wallet.Credit(record.AmountUnits);
                break;
            case DeltaKind.BudgetCredit:
                KeyFor(record).Budget.Credit(record.AmountUnits);
                break;
            case DeltaKind.TokenConfig:
                ApplyConfig(KeyFor(record), TokenConfig.Deserialize(payload));
                break;
            case DeltaKind.TokenDelete:
                KeyState deleted = KeyFor(record);
                deleted.PublishStatus(deleted.OperatorStatus, deleted: true);
                deleted.PublishActiveMask();
                break;
            case DeltaKind.Reserve:
                ApplyReserve(record);
                break;
            case DeltaKind.Settle or DeltaKind.Expire or DeltaKind.Refund:
                ApplyFinish(record);
                break;
            default:
                KeyState key = KeyFor(record);
                ApplyToPolicy(record, key, SlotFor(key, record.PolicyIndex));
                break;
        }
    }

    private static void ApplyToPolicy(in DeltaRecord record, KeyState key, PolicySlot slot)
    {
        switch (record.Kind)
        {
            case DeltaKind.WindowReset:
                slot.Cell.Reset((ushort)record.Aux, record.Aux >> 16, 0, 0, record.AmountUnits, record.ChargedUnits);
                slot.ExhaustedAtMs = 0;
                break;
            case DeltaKind.PolicyMove:
                slot.Cell.MoveWindow(record.AmountUnits, record.ChargedUnits);
                break;
            case DeltaKind.QuotaAdjust:
                slot.Cell.AdjustQuota(record.AmountUnits);
                break;
            case DeltaKind.ExhaustedAt:
                slot.ExhaustedAtMs = record.AtMs;
                break;
            case DeltaKind.ManualReset:
                slot.Cell.ReplayClearUsed(record.AmountUnits);
                slot.ExhaustedAtMs = 0;
                break;
            case DeltaKind.Pause:
                slot.PausedFromStatus = (TokenStatus)record.Aux;
                slot.PausedGeneration = slot.Cell.Generation;
                key.PublishStatus(key.OperatorStatus, key.IsDeleted);
                break;
            case DeltaKind.Restore:
                slot.PausedFromStatus = TokenStatus.None;
                key.PublishStatus(key.OperatorStatus, key.IsDeleted);
                break;
            default:
                throw new InvalidDataException($"unknown delta kind {record.Kind}");
        }
    }

    private void ApplyReserve(in DeltaRecord record)
    {
        var id = new ReservationId(record.ReservationId);
        KeyState key = KeyFor(record);
        var fields = new ReservationRecord
        {
            TokenId = record.TokenId,
            UserId = record.UserId,
            AmountUnits = record.AmountUnits,
            ExpiresAtMs = record.AtMs,
            Generations = record.Aux,
            PolicyMask = (byte)record.PolicyIndex,
        };
        reservations.Restore(id.Slot, id.Sequence, ReservationState.Open, fields);
        key.User.Wallet.ReserveUnchecked(record.AmountUnits);
        key.Budget.ReserveUnchecked(record.AmountUnits);
        for (int bits = record.PolicyIndex; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            SlotFor(key, index).Cell.ReplayReserve(fields.GenerationOf(index), record.AmountUnits);
        }
    }

    private void ApplyFinish(in DeltaRecord record)
    {
        var id = new ReservationId(record.ReservationId);
        long word = reservations.StateWordOf(id.Slot);
        if (ReservationTable.SequenceOf(word) != id.Sequence || ReservationTable.StateOf(word) != ReservationState.Open)
        {
            throw new InvalidDataException($"finish of reservation {id} that is not open in the log");
        }

        ref ReservationRecord reservation = ref reservations[id.Slot];
        if (record.Kind == DeltaKind.Refund)
        {
            Release(ref reservation);
            reservation.ChargedUnits = 0;
            reservation.Exhausted = false;
            reservations.RestoreState(id.Slot, ReservationState.Refunded);
            return;
        }

        // The "exhausted" reply depends on how concurrent charges interleaved live: it is carried by the record,
        // never recomputed from the replay order.
        Charge(ref reservation, record.ChargedUnits, record.AtMs, live: false);
        reservation.Exhausted = record.Aux != 0;
        reservation.ChargedUnits = record.ChargedUnits;
        reservations.RestoreState(id.Slot, record.Kind == DeltaKind.Settle ? ReservationState.Settled : ReservationState.Expired);
    }

    private static void ApplyConfig(KeyState key, TokenConfig config)
    {
        key.Unlimited = config.UnlimitedQuota;
        key.ExpiresAtMs = config.ExpiresAtMs;
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            QuotaPolicySpec? spec = config.Policies.Length > index ? config.Policies[index] : null;
            if (spec is null)
            {
                if (key.Slots?[index] is { } removed)
                {
                    removed.Removed = true;
                }

                continue;
            }

            PolicySlot slot = SlotFor(key, index);
            slot.Config = new PolicyConfig(spec, WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone));
            slot.Removed = false;
        }

        key.PublishStatus(config.Status, key.IsDeleted);
        key.PublishActiveMask();
    }

    internal UserState UserFor(int userId)
    {
        if (FindUser(userId) is { } existing)
        {
            return existing;
        }

        var user = new UserState(userId);
        users[userId] = user;
        lastUserId = Math.Max(lastUserId, userId);
        return user;
    }

    private KeyState KeyFor(in DeltaRecord record) => KeyFor(record.TokenId, record.UserId);

    internal KeyState KeyFor(int tokenId, int userId)
    {
        if (FindKey(tokenId) is { } existing)
        {
            return existing;
        }

        var key = new KeyState(tokenId, UserFor(userId));
        keys[tokenId] = key;
        lastTokenId = Math.Max(lastTokenId, tokenId);
        return key;
    }

    internal static PolicySlot SlotFor(KeyState key, int index)
    {
        key.Slots ??= new PolicySlot?[EngineLimits.PoliciesPerKeyMax];
        return key.Slots[index] ??= new PolicySlot(PendingConfig);
    }
}
