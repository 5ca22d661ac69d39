using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Log recovery: applies one delta record's effect to the engine (single-threaded, before the engine serves).
// Records are effects, not requests: nothing is re-checked, no record is appended, and no audit event is emitted but
// the budget alerts of a start-up recovery (EmitAlertsInReplay).
// Every kind is applied by the same routine the live operation used after appending it. See DeltaRecord for why
// log order reproduces the live state.
public sealed partial class QuotaEngine
{
    private static readonly PolicyConfig PendingConfig = new(
        new QuotaPolicySpec { Enabled = false, AnchorMs = WindowRule.AnchorMinMs }, WindowRule.Create(PeriodMode.Daily, 0, WindowRule.AnchorMinMs, "UTC"));

    internal void Apply(in DeltaRecord record, ReadOnlySpan<byte> payload)
    {
        switch (record.Kind)
        {
            case DeltaKind.UserCredit:
                UserFor(record.UserId).Wallet.Credit(record.DeltaUnits);
                break;
            case DeltaKind.TokenSave:
                ApplySave(KeyFor(record), TokenSave.Deserialize(payload), live: false);
                break;
            case DeltaKind.TokenDelete:
                KeyFor(record).PublishDeleted();
                break;
            case DeltaKind.Reserve:
                ApplyReserve(record);
                break;
            case DeltaKind.Settle or DeltaKind.Expire or DeltaKind.Refund:
                ApplyFinish(record);
                break;
            case DeltaKind.KeepAlive:
                OpenRecord(record.ReservationId).ExpiresAtMs = record.ExpiresAtMs;
                break;
            case DeltaKind.WindowReset or DeltaKind.ManualReset:
                KeyState key = KeyFor(record);
                ApplyReset(record, key, SlotFor(key, record.PolicyIndex));
                break;
            case DeltaKind.RunStarted:
                reservations.RecoverEpoch(record.Epoch);
                break;
            case DeltaKind.LeaseGrant or DeltaKind.LeaseReport:
                ApplyLease(record, SlotFor(KeyFor(record), record.PolicyIndex));
                break;
            default:
                throw new InvalidDataException($"unknown delta kind {record.Kind}");
        }
    }

    private static void ApplyReset(in DeltaRecord record, KeyState key, PolicySlot slot)
    {
        if (record.Kind == DeltaKind.WindowReset)
        {
            StartGeneration(slot, record.Generation, record.QuotaUnits, record.WindowStartMs, record.WindowEndMs, record.StartsLeased);
        }
        else
        {
            slot.Cell.ReplayClearUsed(record.ClearedUnits);
            slot.ExhaustedAtMs = 0;
        }

        if (record.Restores)
        {
            Restore(key, slot);
        }
    }

    private void ApplyReserve(in DeltaRecord record)
    {
        KeyState key = KeyFor(record);
        var fields = new ReservationRecord
        {
            TokenId = record.TokenId,
            UserId = record.UserId,
            AmountUnits = record.EstimateUnits,
            TokenUnits = record.TokenEstimate,
            ExpiresAtMs = record.ExpiresAtMs,
            Generations = record.Generations,
            RequestKey = record.RequestKey,
            PolicyMask = (byte)record.PolicyMask,
        };
        reservations.Restore(record.ReservationId, ReservationState.Open, fields);
        KeyConfig config = key.Config;
        for (int bits = fields.PolicyMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            if (config.Windows[index] is null)
            {
                throw new InvalidDataException($"reservation {record.ReservationId} holds policy {index}, which key {record.TokenId} never had");
            }
        }

        config.Chain.ReplayHold(fields.AmountUnits, fields.TokenUnits, fields.PolicyMask, fields.Generations);
        CountShadowRefusals(key, config, record.ShadowRefusedMask, record.Generations, record.AtMs, live: false);
    }

    private void ApplyFinish(in DeltaRecord record)
    {
        ref ReservationRecord reservation = ref OpenRecord(record.ReservationId);
        int slot = reservations.SlotOf(record.ReservationId);
        if (record.Kind == DeltaKind.Refund)
        {
            Release(ref reservation);
            reservation.ChargedUnits = 0;
            reservation.ChargedTokens = 0;
            reservation.Exhausted = false;
            reservations.RestoreState(slot, ReservationState.Refunded);
            return;
        }

        // The "exhausted" reply and the marks depend on how concurrent charges interleaved live: they are carried by
        // the record, never recomputed from the replay order.
        KeyState key = KeyOf(ref reservation);
        reservation.ChargedUnits = record.ChargedUnits;
        reservation.ChargedTokens = record.ChargedTokens;
        ChargeAccounts(key, ref reservation, alertAtMs: alertsInReplay ? record.AtMs : -1, out _);
        ApplyMarks(key, record.Marks, record.AtMs, live: false);
        reservation.Exhausted = record.ExhaustedReply;
        reservations.RestoreState(slot, record.Kind == DeltaKind.Settle ? ReservationState.Settled : ReservationState.Expired);
    }

    private ref ReservationRecord OpenRecord(ReservationId id)
    {
        int slot = reservations.SlotOf(id);
        long word = reservations.StateWordOf(slot);
        if (!reservations.Holds(slot, id, word) || ReservationTable.StateOf(word) != ReservationState.Open)
        {
            throw new InvalidDataException($"reservation {id} is not open in the log");
        }

        return ref reservations[slot];
    }

    internal UserState UserFor(int userId)
    {
        if (FindUser(userId) is { } existing)
        {
            return existing;
        }

        var user = new UserState(userId);
        if (replayWalletBases is not null && replayWalletBases.Remove(userId, out (long BaseUnits, long SinceMs) wallet))
        {
            user.Alerts = WalletLevels(wallet.BaseUnits, wallet.SinceMs);
        }

        users[userId] = user;
        userIds.Recover(userId);
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
        tokenIds.Recover(tokenId);
        return key;
    }

    internal static PolicySlot SlotFor(KeyState key, int index)
    {
        key.Slots ??= new PolicySlot?[EngineLimits.PoliciesPerKeyMax];
        return key.Slots[index] ??= new PolicySlot(PendingConfig);
    }

    /// <summary>
    /// After recovery, before serving: ids carry the new run's epoch, claims resume after the newest record, each
    /// window forgets which generations it believed held (the next restart rescans), since replay does not track them,
    /// and every window goes into the rollover schedule (replay does not schedule).
    /// </summary>
    internal void StartRun(int epoch)
    {
        reservations.StartRun(epoch);
        for (int tokenId = 1; tokenId <= LastTokenId; tokenId++)
        {
            foreach (PolicySlot? slot in FindKey(tokenId)?.Slots ?? [])
            {
                if (slot is not null)
                {
                    slot.OldestHeldGeneration = unchecked((ushort)(slot.Cell.Generation + 1));
                }
            }
        }

        RebuildSchedule();
    }
}
