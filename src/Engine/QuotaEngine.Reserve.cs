using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

// Reserve: the hot path. Holds an estimate on the wallet, the key budget and every enabled policy, all or
// nothing (docs/design.md "Admission"). Each account is taken with one CAS; a later refusal gives the earlier ones back,
// so a rejection leaves every counter as it was. Lock-free unless a window is due to roll over.
public sealed partial class QuotaEngine
{
    /// <summary>Reserves <paramref name="amountUnits"/> for a request of no named model and no token estimate.</summary>
    public ReserveOutcome Reserve(int tokenId, long amountUnits, long nowMs) => Reserve(tokenId, new ReserveRequest(amountUnits), nowMs);

    /// <summary>
    /// Reserves a request's estimate on the wallet, the key budget and every enabled policy that applies to its model,
    /// each in its metric: quota units, tokens, or one request. <see cref="ReserveRequest.RequestKey"/> (a caller's hash
    /// of its request id, 0 = none) is kept with the reservation and in the log, so that the caller can find a repeated
    /// request after a restart (<see cref="ReservationsWithRequestKeys"/>); the engine does not deduplicate.
    /// </summary>
    public ReserveOutcome Reserve(int tokenId, in ReserveRequest request, long nowMs)
    {
        long amountUnits = request.AmountUnits, tokens = request.Tokens;
        if (amountUnits is <= 0 or > EngineLimits.AmountMaxUnits || tokens is < 0 or > EngineLimits.TokensMax)
        {
            return Rejected(ReserveResult.InvalidAmount);
        }

        KeyState? key = FindKey(tokenId);
        if (key is null)
        {
            return Rejected(ReserveResult.KeyNotFound);
        }

        if (!deltas.HasCapacity)
        {
            return Rejected(ReserveResult.LogFull);
        }

        int policyMask = Volatile.Read(ref key.ActiveMask);
        if (policyMask != 0 && AnyWindowDue(key, policyMask, nowMs))
        {
            if (!TryRollDueWindows(key, nowMs)) // rare: once per window; restores auto-resuming paused keys first
            {
                return Rejected(ReserveResult.LogFull);
            }

            policyMask = Volatile.Read(ref key.ActiveMask);
        }

        if (policyMask != 0 && key.Scope is { } scope)
        {
            policyMask &= scope.MaskFor(request.Model);
        }

        ReserveResult keyCheck = CheckKey(key, nowMs, out int pausedIndex);
        if (keyCheck != ReserveResult.Ok)
        {
            return Rejected(keyCheck, pausedIndex);
        }

        int slot = reservations.TryClaim(out ReservationId id, out long previous);
        if (slot < 0)
        {
            return Rejected(ReserveResult.TooManyOpenReservations);
        }

        ReserveResult result = HoldAccounts(key, amountUnits, tokens, policyMask, out long generations, out int failedPolicy);
        if (result != ReserveResult.Ok)
        {
            reservations.Abandon(slot, previous);
            return Rejected(result, failedPolicy);
        }

        ref ReservationRecord record = ref reservations[slot];
        record.Generations = generations;
        record.TokenId = tokenId;
        record.UserId = key.User.UserId;
        record.AmountUnits = amountUnits;
        record.TokenUnits = tokens;
        record.ChargedUnits = 0;
        record.Exhausted = false;
        record.PolicyMask = (byte)policyMask;
        record.RequestKey = request.RequestKey;
        record.ExpiresAtMs = nowMs + reservationTtlMs;

        // Appended before the reservation is published: no settle or refund of it can reach the log first.
        deltas.Append(DeltaRecord.Reserve(id, tokenId, record.UserId, policyMask, amountUnits, tokens, record.ExpiresAtMs, generations, request.RequestKey));
        reservations.Publish(slot, id);
        return new ReserveOutcome(ReserveResult.Ok, id, record.ExpiresAtMs, -1);
    }

    private static ReserveOutcome Rejected(ReserveResult result, int policyIndex = -1) =>
        new(result, ReservationId.None, 0, policyIndex);

    /// <summary>The first admission check: known, not deleted, enabled, not expired, not paused by a policy.</summary>
    private static ReserveResult CheckKey(KeyState key, long nowMs, out int pausedIndex)
    {
        pausedIndex = -1;
        int status = Volatile.Read(ref key.StatusWord);
        if ((status & KeyState.DeletedFlag) != 0)
        {
            return ReserveResult.KeyNotFound;
        }

        if ((TokenStatus)(status & KeyState.OperatorStatusMask) != TokenStatus.Enabled)
        {
            return ReserveResult.KeyDisabled;
        }

        long expiresAtMs = Volatile.Read(ref key.ExpiresAtMs);
        if (expiresAtMs != -1 && nowMs >= expiresAtMs)
        {
            return ReserveResult.KeyExpired;
        }

        int paused = (status & KeyState.PausedMask) >> KeyState.PausedShift;
        if (paused != 0)
        {
            pausedIndex = BitOperations.TrailingZeroCount(paused);
            return ReserveResult.KeyPaused;
        }

        return ReserveResult.Ok;
    }

    /// <summary>Checks 2–4: wallet, key budget, then each enabled policy; on a refusal, gives back what it took.</summary>
    private static ReserveResult HoldAccounts(KeyState key, long amount, long tokens, int policyMask, out long generations, out int failedPolicy)
    {
        failedPolicy = -1;
        generations = 0;
        if (!key.User.Wallet.TryReserve(amount))
        {
            return ReserveResult.InsufficientUserQuota;
        }

        if (key.Unlimited)
        {
            key.Budget.ReserveUnchecked(amount); // not enforced, still tracked
        }
        else if (!key.Budget.TryReserve(amount))
        {
            key.User.Wallet.Release(amount);
            return ReserveResult.InsufficientKeyQuota;
        }

        PolicySlot?[]? slots = key.Slots;
        for (int held = 0, bits = policyMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicySlot slot = slots![index]!;
            PolicyConfig config = slot.Config;
            ReserveResult result = slot.Cell.TryReserve(config.InMetric(amount, tokens), config.Boundary, out ushort generation);
            if (result != ReserveResult.Ok)
            {
                ReleaseHolds(key, amount, tokens, held, generations);
                failedPolicy = index;
                return result;
            }

            generations |= (long)generation << (index * 16);
            held |= 1 << index;
        }

        return ReserveResult.Ok;
    }

    /// <summary>
    /// Gives back what a reservation holds: the policies in <paramref name="policyMask"/> (each in its metric), the key
    /// budget, the wallet. A policy's metric changes only with a new window, so a hold is released in the metric it was taken in.
    /// </summary>
    private static void ReleaseHolds(KeyState key, long amount, long tokens, int policyMask, long generations)
    {
        for (int bits = policyMask; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicySlot slot = key.Slots![index]!;
            slot.Cell.Release(ReservationRecord.GenerationIn(generations, index), slot.Config.InMetric(amount, tokens));
        }

        key.Budget.Release(amount);
        key.User.Wallet.Release(amount);
    }

    private static bool AnyWindowDue(KeyState key, int policyMask, long nowMs)
    {
        PolicySlot?[]? slots = key.Slots;
        for (int bits = policyMask; bits != 0; bits &= bits - 1)
        {
            if (nowMs >= slots![BitOperations.TrailingZeroCount(bits)]!.Cell.WindowEndMs)
            {
                return true;
            }
        }

        return false;
    }
}
