using System.Numerics;
using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

// Reserve: the hot path. Holds an estimate on every account of the key's admission chain (the wallet, the key budget and
// every enabled policy), all or nothing (docs/design.md "Admission", "The admission chain"). Each account is taken with
// one CAS; a later refusal gives the earlier ones back in reverse (Accounts/AdmissionChain.cs), so a rejection leaves
// every counter as it was and names the account that refused. Lock-free unless a window is due to roll over.
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
    public ReserveOutcome Reserve(int tokenId, in ReserveRequest request, long nowMs) => Reserve(tokenId, request, nowMs, shadowRefusedShort: 0);

    /// <summary>
    /// The reserve; <paramref name="shadowRefusedShort"/> names leased shadow windows the lease authority had nothing left
    /// for: short of lease, they count a shadow refusal instead of reporting <see cref="ReserveResult.LeaseShort"/>.
    /// </summary>
    private ReserveOutcome Reserve(int tokenId, in ReserveRequest request, long nowMs, int shadowRefusedShort)
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

        int slot = -1;
        long previous = 0;
        ReservationId id = ReservationId.None;
        for (int attempt = 0; ; attempt++)
        {
            Invariant.Assert(attempt < EngineLimits.CasRetriesMax, "a reserve kept finding its key's configuration replaced");
            KeyConfig config = key.Config; // read once: everything below is judged by this configuration
            if (config.ActiveMask != 0 && AnyWindowDue(config, config.ActiveMask, nowMs))
            {
                if (!TryRollDueWindows(key, nowMs)) // rare: once per window; restores auto-resuming paused keys first
                {
                    return Abandoned(slot, previous, ReserveResult.LogFull, AccountId.None);
                }

                config = key.Config;
            }

            RaceHooks.ReachedOnRequestPath(RaceHooks.Point.ReserveConfigurationRead);
            int policyMask = config.ActiveMask;
            if (policyMask != 0 && config.Scope is { } scope)
            {
                policyMask &= scope.MaskFor(request.Model);
            }

            ReserveResult result = CheckKey(config, nowMs, out int pausedBy);
            AccountId refused = pausedBy < 0 ? AccountId.None : AccountId.Window(tokenId, pausedBy);
            ChainHolds holds = default;
            if (result == ReserveResult.Ok)
            {
                if (slot < 0 && (slot = reservations.TryClaim(out id, out previous)) < 0)
                {
                    return Rejected(ReserveResult.TooManyOpenReservations);
                }

                result = config.Chain.TryHold(amountUnits, tokens, policyMask, shadowRefusedShort, out holds, out refused);
            }

            RaceHooks.ReachedOnRequestPath(RaceHooks.Point.ReserveDecided);
            // A save published another configuration meanwhile: what was decided may mix the two (the counters are read
            // after the configuration, and a save changes both). Give back what was held and decide again under the new one.
            if (key.Config != config)
            {
                if (result == ReserveResult.Ok)
                {
                    config.Chain.Release(amountUnits, tokens, holds.HeldMask, holds.Generations);
                }

                continue;
            }

            if (result != ReserveResult.Ok)
            {
                return Abandoned(slot, previous, result, refused);
            }

            long generations = holds.Generations;
            int heldMask = holds.HeldMask, shadowRefused = holds.ShadowRefusedMask;
            ref ReservationRecord record = ref reservations[slot];
            record.Generations = generations;
            record.TokenId = tokenId;
            record.UserId = key.User.UserId;
            record.AmountUnits = amountUnits;
            record.TokenUnits = tokens;
            record.ChargedUnits = 0;
            record.Exhausted = false;
            record.PolicyMask = (byte)heldMask;
            record.RequestKey = request.RequestKey;
            record.ExpiresAtMs = nowMs + reservationTtlMs;
            reservations.NoteExpiry(slot, record.ExpiresAtMs); // before the publish: the expiry sweep relies on it

            // Appended before the reservation is published: no settle or refund of it can reach the log first.
            deltas.Append(DeltaRecord.Reserve(id, tokenId, record.UserId, heldMask, shadowRefused, amountUnits, tokens, record.ExpiresAtMs, generations, request.RequestKey));
            reservations.Publish(slot, id);
            if (shadowRefused != 0)
            {
                CountShadowRefusals(key, config, shadowRefused, generations, nowMs, live: true);
            }

            return new ReserveOutcome(ReserveResult.Ok, id, record.ExpiresAtMs, -1);
        }
    }

    /// <summary>A refusal after the reservation record may have been claimed (<paramref name="slot"/> ≥ 0): the claim is given back.</summary>
    private ReserveOutcome Abandoned(int slot, long previous, ReserveResult result, AccountId refused)
    {
        if (slot >= 0)
        {
            reservations.Abandon(slot, previous);
        }

        return Rejected(result, refused);
    }

    /// <summary>A refusal; <paramref name="refused"/> names the account that refused (its policy position for a window).</summary>
    private static ReserveOutcome Rejected(ReserveResult result, AccountId refused = default) =>
        new(result, ReservationId.None, 0, refused.PolicyIndex) { Account = refused };

    /// <summary>The first admission check: known, not deleted, enabled, not expired, not paused by a policy.</summary>
    private static ReserveResult CheckKey(KeyConfig config, long nowMs, out int pausedIndex)
    {
        pausedIndex = -1;
        int status = config.StatusWord;
        if ((status & KeyConfig.DeletedFlag) != 0)
        {
            return ReserveResult.KeyNotFound;
        }

        if ((TokenStatus)(status & KeyConfig.OperatorStatusMask) != TokenStatus.Enabled)
        {
            return ReserveResult.KeyDisabled;
        }

        long expiresAtMs = config.ExpiresAtMs;
        if (expiresAtMs != -1 && nowMs >= expiresAtMs)
        {
            return ReserveResult.KeyExpired;
        }

        int paused = (status & KeyConfig.PausedMask) >> KeyConfig.PausedShift;
        if (paused != 0)
        {
            pausedIndex = BitOperations.TrailingZeroCount(paused);
            return ReserveResult.KeyPaused;
        }

        return ReserveResult.Ok;
    }

    /// <summary>
    /// Counts an admitted request in the windows of the shadow policies that would have refused it (live, and in replay
    /// from the Reserve record). Live, the first shadow refusal of a window is logged
    /// (<see cref="AuditAction.ShadowRefusal"/>, once per window and policy: the exact count is the window's), and every
    /// one adds to <see cref="ShadowRefusalCount"/>.
    /// </summary>
    private void CountShadowRefusals(KeyState key, KeyConfig config, int shadowRefused, long generations, long nowMs, bool live)
    {
        for (int bits = shadowRefused; bits != 0; bits &= bits - 1)
        {
            int index = BitOperations.TrailingZeroCount(bits);
            PolicyWindow window = config.Windows[index]!;
            long count = window.Cell.CountShadowRefusal(ReservationRecord.GenerationIn(generations, index));
            if (!live || count == 0) // replay, or the window rolled over meanwhile: nothing to count in it any more
            {
                continue;
            }

            Interlocked.Increment(ref shadowRefusalCount);
            if (count == 1)
            {
                PolicyConfig policy = config.Policies[index]!;
                audit.Record(new AuditEvent(
                    AuditAction.ShadowRefusal, key.TokenId, key.User.UserId, index, nowMs, window.Cell.Used, policy.QuotaUnits,
                    window.Cell.WindowEndMs, window.Cell.WindowStartMs, TokenStatus.None, ReservationId.None, 0, policy.Metric));
            }
        }
    }

    private static bool AnyWindowDue(KeyConfig config, int policyMask, long nowMs)
    {
        for (int bits = policyMask; bits != 0; bits &= bits - 1)
        {
            if (nowMs >= config.Windows[BitOperations.TrailingZeroCount(bits)]!.Cell.WindowEndMs)
            {
                return true;
            }
        }

        return false;
    }
}
