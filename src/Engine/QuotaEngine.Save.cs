using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Creating, updating and deleting keys, and saving their policies (seed §4.6 with W11/W12/W16 fixed).
// Everything is validated before anything changes; the changes of one save then apply under the key's lock,
// so a reserve sees the key either before or after the save.
public sealed partial class QuotaEngine
{
    public SaveOutcome CreateToken(TokenSpec spec, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(spec);
        (SpecError error, int policyIndex) = SpecValidation.Validate(spec);
        if (error != SpecError.None)
        {
            return new SaveOutcome(error, 0, policyIndex);
        }

        UserState? user = FindUser(spec.UserId);
        if (user is null)
        {
            return new SaveOutcome(SpecError.UserNotFound, 0, -1);
        }

        int tokenId = TakeId(ref lastTokenId, options.KeysMax);
        if (tokenId == 0)
        {
            return new SaveOutcome(SpecError.TooManyKeys, 0, -1);
        }

        var key = new KeyState(tokenId, user);
        key.Budget.Initialize(spec.RemainQuotaUnits, 0);
        lock (key.Gate)
        {
            key.Unlimited = spec.UnlimitedQuota;
            key.ExpiresAtMs = spec.ExpiresAtMs;
            key.PublishStatus(spec.Status, deleted: false);
            SavePolicies(key, spec.Policies, nowMs);
        }

        Volatile.Write(ref keys[tokenId], key);
        deltas.Append(new DeltaRecord(DeltaKind.TokenSave, tokenId, user.UserId, -1, 0, spec.RemainQuotaUnits, 0, nowMs, 0));
        return new SaveOutcome(SpecError.None, tokenId, -1);
    }

    public SaveOutcome UpdateToken(int tokenId, TokenUpdate update, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(update);
        KeyState? key = FindKey(tokenId);
        if (key is null || key.IsDeleted)
        {
            return new SaveOutcome(SpecError.TokenNotFound, tokenId, -1);
        }

        (SpecError error, int policyIndex) = SpecValidation.Validate(update);
        if (error != SpecError.None)
        {
            return new SaveOutcome(error, tokenId, policyIndex);
        }

        lock (key.Gate)
        {
            if (key.IsDeleted)
            {
                return new SaveOutcome(SpecError.TokenNotFound, tokenId, -1);
            }

            if (update.RemainQuotaUnits is { } remain)
            {
                key.Budget.Credit(remain - key.Budget.Balance);
            }

            key.Unlimited = update.UnlimitedQuota ?? key.Unlimited;
            Volatile.Write(ref key.ExpiresAtMs, update.ExpiresAtMs ?? key.ExpiresAtMs);
            key.PublishStatus(update.Status ?? key.OperatorStatus, deleted: false);
            if (update.Policies is { } policies)
            {
                SavePolicies(key, policies, nowMs);
            }
        }

        deltas.Append(new DeltaRecord(DeltaKind.TokenSave, tokenId, key.User.UserId, -1, 0, key.Budget.Balance, 0, nowMs, 0));
        return new SaveOutcome(SpecError.None, tokenId, -1);
    }

    /// <summary>Deletes a key with its policies (fixes W16) and refunds its open reservations.</summary>
    public bool DeleteToken(int tokenId, long nowMs)
    {
        KeyState? key = FindKey(tokenId);
        if (key is null)
        {
            return false;
        }

        lock (key.Gate)
        {
            if (key.IsDeleted)
            {
                return false;
            }

            key.PublishStatus(key.OperatorStatus, deleted: true);
            key.PublishActiveMask();
        }

        for (int slot = 0; slot < reservations.Capacity; slot++)
        {
            if (reservations.IsOpen(slot) && reservations[slot].TokenId == tokenId)
            {
                long word = reservations.StateWordOf(slot);
                Refund(ReservationTable.IdOf(slot, word), nowMs);
            }
        }

        deltas.Append(new DeltaRecord(DeltaKind.TokenDelete, tokenId, key.User.UserId, -1, 0, 0, 0, nowMs, 0));
        return true;
    }

    /// <summary>Replaces the key's policies position by position (under the key's lock).</summary>
    private void SavePolicies(KeyState key, IReadOnlyList<QuotaPolicySpec> specs, long nowMs)
    {
        if (specs.Count == 0 && key.Slots is null)
        {
            return;
        }

        key.Slots ??= new PolicySlot?[EngineLimits.PoliciesPerKeyMax];
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            QuotaPolicySpec? spec = index < specs.Count ? specs[index] : null;
            PolicySlot? slot = key.Slots[index];
            if (spec is null)
            {
                if (slot is { Removed: false })
                {
                    Retire(key, index, slot, nowMs);
                    slot.Removed = true; // kept, not nulled: open reservations still name this position
                }

                continue;
            }

            var config = new PolicyConfig(spec, WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone));
            key.Slots[index] = slot = SavePolicy(key, index, slot, config, nowMs);
            slot.Removed = false;
            deltas.Append(new DeltaRecord(DeltaKind.PolicySave, key.TokenId, key.User.UserId, index, 0, spec.QuotaUnits, 0, nowMs, slot.Cell.Generation));
        }

        key.PublishActiveMask();
        key.PublishStatus(key.OperatorStatus, key.IsDeleted);
    }

    private PolicySlot SavePolicy(KeyState key, int index, PolicySlot? slot, PolicyConfig config, long nowMs)
    {
        if (!config.Spec.Enabled)
        {
            if (slot is null)
            {
                return new PolicySlot(config);
            }

            Retire(key, index, slot, nowMs);
            slot.Config = config;
            return slot;
        }

        Window window = WindowMath.Compute(config.Rule, nowMs);
        if (slot is { Removed: false } && slot.Config.Spec.Enabled)
        {
            // Carry the usage over (seed §4.6), but never across an elapsed window (fixes W11).
            if (nowMs >= slot.Cell.WindowEndMs)
            {
                ResetWindow(key, index, slot, nowMs);
            }

            long quotaDelta = config.QuotaUnits - slot.Config.QuotaUnits;
            slot.Config = config;
            slot.Cell.MoveWindow(window.StartMs, window.EndMs);
            slot.Cell.AdjustQuota(quotaDelta);
        }
        else
        {
            slot ??= new PolicySlot(config);
            slot.Config = config;
            slot.Cell.Reset(unchecked((ushort)(slot.Cell.Generation + 1)), config.QuotaUnits, 0, 0, window.StartMs, window.EndMs);
            slot.ExhaustedAtMs = 0;
        }

        ApplySavedExhaustion(key, index, slot, nowMs);
        return slot;
    }

    /// <summary>After a save: pause if the new quota is already used up, restore if it now fits (seed §4.6 step 6).</summary>
    private void ApplySavedExhaustion(KeyState key, int index, PolicySlot slot, long nowMs)
    {
        PolicyConfig config = slot.Config;
        bool exhausted = slot.Cell.Used >= config.QuotaUnits;
        if (!exhausted)
        {
            slot.ExhaustedAtMs = 0;
            if (slot.IsPaused)
            {
                Restore(key, index, slot, nowMs, AuditAction.UpdateRestore);
            }

            return;
        }

        if (slot.ExhaustedAtMs == 0)
        {
            slot.ExhaustedAtMs = nowMs;
        }

        bool pauses = config.Spec.ExhaustedAction == ExhaustedAction.DisableToken;
        if (pauses && !slot.IsPaused)
        {
            Pause(key, index, slot, nowMs, AuditAction.UpdateDisable);
        }
        else if (!pauses && slot.IsPaused)
        {
            Restore(key, index, slot, nowMs, AuditAction.UpdateRestore); // reject_only never holds a key paused
        }
    }

    /// <summary>Takes a policy out of service: restores a key it paused, zeroes its window, orphans its reservations.</summary>
    private void Retire(KeyState key, int index, PolicySlot slot, long nowMs)
    {
        if (slot.IsPaused)
        {
            Restore(key, index, slot, nowMs, AuditAction.UpdateRestore);
        }

        Invariant.Assert(!slot.IsPaused, "a retired policy holds no pause");
        slot.Cell.Reset(unchecked((ushort)(slot.Cell.Generation + 1)), 0, 0, 0, 0, 0);
        slot.ExhaustedAtMs = 0;
    }
}
