using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Creating, updating and deleting keys, and saving their policies (seed §4.6 with W11/W12/W16 fixed).
// Everything is validated before anything changes; the changes of one save then apply under the key's lock,
// so a reserve sees the key either before or after the save. Each save ends with one TokenConfig record that
// carries the key's whole configuration: the log alone rebuilds a key, configuration and counters together.
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
        lock (key.Gate)
        {
            CreditBudget(key, spec.RemainQuotaUnits, nowMs);
            key.Unlimited = spec.UnlimitedQuota;
            key.ExpiresAtMs = spec.ExpiresAtMs;
            key.PublishStatus(spec.Status, deleted: false);
            SavePolicies(key, spec.Policies, nowMs);
            AppendConfig(key, nowMs);
        }

        Volatile.Write(ref keys[tokenId], key);
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
                CreditBudget(key, remain - key.Budget.Balance, nowMs);
            }

            key.Unlimited = update.UnlimitedQuota ?? key.Unlimited;
            Volatile.Write(ref key.ExpiresAtMs, update.ExpiresAtMs ?? key.ExpiresAtMs);
            key.PublishStatus(update.Status ?? key.OperatorStatus, deleted: false);
            if (update.Policies is { } policies)
            {
                SavePolicies(key, policies, nowMs);
            }

            AppendConfig(key, nowMs);
        }

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

            deltas.Append(new DeltaRecord(DeltaKind.TokenDelete, tokenId, key.User.UserId, -1, 0, 0, 0, nowMs, 0));
            key.PublishStatus(key.OperatorStatus, deleted: true);
            key.PublishActiveMask();
        }

        for (int slot = 0; slot < reservations.Capacity; slot++)
        {
            if (reservations.IsOpen(slot) && reservations[slot].TokenId == tokenId)
            {
                Refund(ReservationTable.IdOf(slot, reservations.StateWordOf(slot)), nowMs);
            }
        }

        return true;
    }

    private void CreditBudget(KeyState key, long deltaUnits, long nowMs)
    {
        deltas.Append(new DeltaRecord(DeltaKind.BudgetCredit, key.TokenId, key.User.UserId, -1, 0, deltaUnits, 0, nowMs, 0));
        key.Budget.Credit(deltaUnits);
    }

    private void AppendConfig(KeyState key, long nowMs)
    {
        var policies = new QuotaPolicySpec?[EngineLimits.PoliciesPerKeyMax];
        for (int index = 0; key.Slots is not null && index < policies.Length; index++)
        {
            policies[index] = key.Slots[index] is { Removed: false } slot ? slot.Config.Spec : null;
        }

        var config = new TokenConfig(key.User.UserId, key.OperatorStatus, key.Unlimited, key.ExpiresAtMs, policies);
        deltas.Append(new DeltaRecord(DeltaKind.TokenConfig, key.TokenId, key.User.UserId, -1, 0, 0, 0, nowMs, 0), config.Serialize());
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
            deltas.Append(new DeltaRecord(DeltaKind.PolicyMove, key.TokenId, key.User.UserId, index, 0, window.StartMs, window.EndMs, nowMs, 0));
            slot.Cell.MoveWindow(window.StartMs, window.EndMs);
            deltas.Append(new DeltaRecord(DeltaKind.QuotaAdjust, key.TokenId, key.User.UserId, index, 0, quotaDelta, 0, nowMs, 0));
            slot.Cell.AdjustQuota(quotaDelta);
        }
        else
        {
            slot ??= new PolicySlot(config);
            slot.Config = config;
            StartGeneration(key, index, slot, config.QuotaUnits, window, nowMs);
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
            SetExhaustedAt(key, index, slot, 0);
            if (slot.IsPaused)
            {
                Restore(key, index, slot, nowMs, AuditAction.UpdateRestore);
            }

            return;
        }

        if (slot.ExhaustedAtMs == 0)
        {
            SetExhaustedAt(key, index, slot, nowMs);
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
        StartGeneration(key, index, slot, 0, default, nowMs);
    }
}
