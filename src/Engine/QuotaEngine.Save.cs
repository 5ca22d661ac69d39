using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Windows;

namespace Quota.Engine;

// Creating, updating and deleting keys (docs/design.md "Saves"). A save is one unit in memory and in the log:
// everything is validated and planned first (nothing changes, no id is taken), then, under the key's lock, the plan
// is appended as one TokenSave record and applied by the same routine that replays it (QuotaEngine.Replay.cs).
// A save that fails changes nothing and consumes nothing; a crash leaves all of it or none of it.
public sealed partial class QuotaEngine
{
    /// <summary>
    /// Creates a key for an existing user; its policies' first windows are computed at <paramref name="nowMs"/>.
    /// <see cref="SaveOutcome.Id"/> is the new key id (dense, from 1). A refused spec changes nothing and takes no id.
    /// </summary>
    public SaveOutcome CreateToken(TokenSpec spec, long nowMs) => CreateToken(spec, nowMs, tokenId: 0);

    /// <summary>Checks a spec as <see cref="CreateToken(TokenSpec, long)"/> would, without saving anything (and the policy at fault, or -1).</summary>
    public static (SpecError Error, int PolicyIndex) Validate(TokenSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return SpecValidation.Validate(spec);
    }

    /// <summary>
    /// Creates a key with the id <paramref name="tokenId"/> (0: the next dense id). An explicit id is for an engine whose
    /// ids are allocated elsewhere (cluster mode: by the shared store); it must be free and within <see cref="EngineOptions.KeysMax"/>.
    /// </summary>
    public SaveOutcome CreateToken(TokenSpec spec, long nowMs, int tokenId)
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

        var audits = new List<(AuditAction Action, int Index, TokenStatus Previous)>();
        PolicySave?[] policies = PlanPolicies(key: null, spec.Policies, spec.Status, nowMs, audits, out policyIndex, out error);
        if (error != SpecError.None)
        {
            return new SaveOutcome(error, 0, policyIndex);
        }

        if (!deltas.TryPromise(1))
        {
            return new SaveOutcome(SpecError.LogFull, 0, -1);
        }

        try
        {
            // The id is claimed before the save is logged: a create that lost the id appends nothing.
            if (tokenId != 0)
            {
                if (!tokenIds.TryTake(tokenId))
                {
                    return new SaveOutcome(SpecError.IdTaken, 0, -1);
                }
            }
            else if ((tokenId = tokenIds.TakeNext()) == 0)
            {
                return new SaveOutcome(SpecError.TooManyKeys, 0, -1);
            }

            var key = new KeyState(tokenId, user);
            lock (key.Gate)
            {
                long budgetDelta = key.Budget.SetBalance(spec.RemainQuotaUnits);
                var save = new TokenSave(user.UserId, spec.Status, spec.UnlimitedQuota, spec.ExpiresAtMs, budgetDelta, policies);
                CommitSave(key, save, audits, nowMs);
            }

            Volatile.Write(ref keys[tokenId], key);
            return new SaveOutcome(SpecError.None, tokenId, -1);
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>
    /// Changes the fields of <paramref name="update"/> that are not null, all or nothing (docs/design.md "Saving a key").
    /// Policies are matched by position and carry their window's usage over, except across an elapsed window or to another
    /// metric; a new quota that is already used up pauses the key (for disable_token), one that fits again restores it.
    /// </summary>
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

        if (!deltas.TryPromise(1))
        {
            return new SaveOutcome(SpecError.LogFull, tokenId, -1);
        }

        try
        {
            lock (key.Gate)
            {
                return UpdateLocked(key, update, nowMs);
            }
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    private SaveOutcome UpdateLocked(KeyState key, TokenUpdate update, long nowMs)
    {
        if (key.IsDeleted)
        {
            return new SaveOutcome(SpecError.TokenNotFound, key.TokenId, -1);
        }

        TokenStatus status = update.Status ?? key.OperatorStatus;
        var audits = new List<(AuditAction Action, int Index, TokenStatus Previous)>();
        int policyIndex = -1;
        SpecError error = SpecError.None;
        PolicySave?[] policies = update.Policies is { } specs
            ? PlanPolicies(key, specs, status, nowMs, audits, out policyIndex, out error)
            : new PolicySave?[EngineLimits.PoliciesPerKeyMax];
        if (error != SpecError.None)
        {
            return new SaveOutcome(error, key.TokenId, policyIndex);
        }

        if (CutQuotas(key, policies))
        {
            // Planned again from the usage read after the cut: a settle that charged before it is counted here, one that
            // charges after it sees the lower quota and marks the window itself (docs/design.md "Saving a key").
            audits.Clear();
            policies = PlanPolicies(key, update.Policies!, status, nowMs, audits, out policyIndex, out error);
            Invariant.Assert(error == SpecError.None, "a save planned once plans again");
        }

        RaceHooks.Reached(RaceHooks.Point.SavePlanned);
        long budgetDelta = update.RemainQuotaUnits is { } remain ? key.Budget.SetBalance(remain) : 0;
        var save = new TokenSave(
            key.User.UserId, status, update.UnlimitedQuota ?? key.Unlimited, update.ExpiresAtMs ?? key.ExpiresAtMs, budgetDelta, policies);
        CommitSave(key, save, audits, nowMs);
        return new SaveOutcome(SpecError.None, key.TokenId, -1);
    }

    /// <summary>
    /// Lowers, ahead of the save, the quota of every window the plan carries to a lower quota (under the key's lock; true if
    /// any). The plan decides "exhausted or not" from the usage it reads, a settle from the window's quota it reads after
    /// charging: with the cut made first, a settle that charges after the plan's read sees the lower quota and marks the
    /// window under the lock, after the save. A cut takes room away, so it may show before the save's record: a reserve
    /// it refuses changes nothing, and one it admits is an addition that replays the same on either side of the save.
    /// </summary>
    private static bool CutQuotas(KeyState key, PolicySave?[] policies)
    {
        bool cut = false;
        for (int index = 0; index < policies.Length; index++)
        {
            if (policies[index] is { Restart: null, QuotaDeltaUnits: < 0 } policy)
            {
                key.Slots![index]!.Cell.AdjustQuota(policy.QuotaDeltaUnits);
                cut = true;
            }
        }

        return cut;
    }

    /// <summary>Appends the save, then applies it (under the key's lock; its one record was promised).</summary>
    private void CommitSave(KeyState key, TokenSave save, List<(AuditAction Action, int Index, TokenStatus Previous)> audits, long nowMs)
    {
        deltas.Append(DeltaRecord.TokenSave(key.TokenId, key.User.UserId, nowMs), save.Serialize());
        ApplySave(key, save, live: true);
        foreach ((AuditAction action, int index, TokenStatus previous) in audits)
        {
            Emit(action, key, index, key.Slots![index]!, nowMs, previous);
        }
    }

    /// <summary>
    /// Deletes a key with its policies. Its open reservations stay open: they settle on the user's wallet (the work was
    /// done) or expire at their estimate — the key's own counters are gone with it.
    /// </summary>
    public SpecError DeleteToken(int tokenId, long nowMs)
    {
        KeyState? key = FindKey(tokenId);
        if (key is null || key.IsDeleted)
        {
            return SpecError.TokenNotFound;
        }

        if (!deltas.TryPromise(1))
        {
            return SpecError.LogFull;
        }

        try
        {
            lock (key.Gate)
            {
                if (key.IsDeleted)
                {
                    return SpecError.TokenNotFound;
                }

                deltas.Append(DeltaRecord.TokenDelete(tokenId, key.User.UserId, nowMs));
                key.PublishDeleted();
                return SpecError.None;
            }
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }
}
