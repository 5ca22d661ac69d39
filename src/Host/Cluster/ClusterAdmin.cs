using System.Text.Json;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// Configuration writes in cluster mode: validated here, saved to the store as one whole document (with the account it
/// sets, in the same script), then applied here before the answer, so a read that follows on this node sees it; the other
/// nodes apply it from the events channel or their next poll.
/// </summary>
internal static class ClusterAdmin
{
    public static SaveOutcome CreateUser(ClusterNode node, QuotaRuntime runtime, string name, long quotaUnits, string? group)
    {
        if (quotaUnits is < 0 or > EngineLimits.BalanceMaxUnits)
        {
            return new SaveOutcome(SpecError.UserQuotaInvalid, 0, -1);
        }

        int id = node.Store.NextId("u");
        string json = JsonSerializer.Serialize(new UserDocumentInStore(id, name, runtime.NowMs, group));
        node.Config.SyncThrough(node.Store.SaveDocument("u:" + id, json, node.Store.WalletAccount(id), quotaUnits));
        return new SaveOutcome(SpecError.None, id, -1);
    }

    /// <summary>
    /// Saves a user's name and price group (its wallet untouched) for every node; false (nothing written) when
    /// <paramref name="expectedVersion"/> (≥ 0) is no longer the store's configuration version.
    /// </summary>
    public static bool UpdateUser(ClusterNode node, UserDocument label, long expectedVersion = -1)
    {
        string json = JsonSerializer.Serialize(new UserDocumentInStore(label.Id, label.Name, label.CreatedMs, label.Group));
        return Saved(node, node.Store.SaveDocument("u:" + label.Id, json, node.Store.WalletAccount(label.Id), budget: -1, expectedVersion));
    }

    public static SpecError CreditUser(ClusterNode node, QuotaRuntime runtime, int userId, long deltaUnits)
    {
        if (runtime.Engine.ReadUser(userId) is null)
        {
            return SpecError.UserNotFound;
        }

        return deltaUnits is < -EngineLimits.BalanceMaxUnits or > EngineLimits.BalanceMaxUnits || !node.Store.Credit(userId, deltaUnits)
            ? SpecError.UserQuotaInvalid
            : SpecError.None;
    }

    /// <summary>
    /// The engine's validation, and no shadow policy: the store's leases enforce every policy they hold, so a shadow
    /// policy is a single-node feature (docs/cluster.md).
    /// </summary>
    private static (SpecError Error, int PolicyIndex) Validate(TokenSpec spec)
    {
        (SpecError error, int policyIndex) = QuotaEngine.Validate(spec);
        for (int i = 0; error == SpecError.None && i < spec.Policies.Count; i++)
        {
            if (spec.Policies[i].Enforcement != PolicyEnforcement.Enforce)
            {
                return (SpecError.PolicyEnforcementInvalid, i);
            }
        }

        return (error, policyIndex);
    }

    public static (SaveOutcome Outcome, TokenDocument? Label, string? Key) CreateToken(ClusterNode node, QuotaRuntime runtime, TokenSpec spec, string name)
    {
        (SpecError error, int policyIndex) = Validate(spec);
        if (error != SpecError.None)
        {
            return (new SaveOutcome(error, 0, policyIndex), null, null);
        }

        if (runtime.Engine.ReadUser(spec.UserId) is null)
        {
            return (new SaveOutcome(SpecError.UserNotFound, 0, -1), null, null);
        }

        int id = node.Store.NextId("t");
        string key = ApiKeys.NewKey();
        var doc = new TokenDocumentInStore(id, spec.UserId, name, ApiKeys.Hash(key), ApiKeys.Preview(key), runtime.NowMs, spec.Status,
            spec.UnlimitedQuota, spec.ExpiresAtMs, [.. spec.Policies], Deleted: false);
        Save(node, doc, spec.UnlimitedQuota ? -1 : spec.RemainQuotaUnits);
        return (new SaveOutcome(SpecError.None, id, -1), runtime.Store.FindToken(id), key);
    }

    /// <summary>
    /// Saves a key's changed document; <c>Stale</c> (nothing written) when <paramref name="expectedVersion"/> (≥ 0) is no
    /// longer the store's configuration version.
    /// </summary>
    public static (SaveOutcome Outcome, bool Stale) UpdateToken(ClusterNode node, int tokenId, TokenUpdate update, string? name, long expectedVersion = -1)
    {
        if (node.Config.Token(tokenId) is not { } doc)
        {
            return (new SaveOutcome(SpecError.TokenNotFound, tokenId, -1), false);
        }

        TokenDocumentInStore updated = doc with
        {
            Name = name ?? doc.Name,
            Status = update.Status ?? doc.Status,
            Unlimited = update.UnlimitedQuota ?? doc.Unlimited,
            ExpiresAtMs = update.ExpiresAtMs ?? doc.ExpiresAtMs,
            Policies = update.Policies is { } policies ? [.. policies] : doc.Policies,
        };
        (SpecError error, int policyIndex) = Validate(new TokenSpec
        {
            UserId = doc.UserId,
            Status = updated.Status,
            RemainQuotaUnits = update.RemainQuotaUnits ?? 0,
            UnlimitedQuota = updated.Unlimited,
            ExpiresAtMs = updated.ExpiresAtMs,
            Policies = updated.Policies,
        });
        if (error != SpecError.None)
        {
            return (new SaveOutcome(error, tokenId, policyIndex), false);
        }

        bool saved = Save(node, updated, update.RemainQuotaUnits ?? -1, expectedVersion);
        return (new SaveOutcome(SpecError.None, tokenId, -1), !saved);
    }

    public static SpecError DeleteToken(ClusterNode node, int tokenId)
    {
        if (node.Config.Token(tokenId) is not { } doc)
        {
            return SpecError.TokenNotFound;
        }

        Save(node, doc with { Deleted = true }, -1);
        return SpecError.None;
    }

    /// <summary>Clears the current window of one policy (or every enabled one, <paramref name="policyIndex"/> -1) in the store, for every node.</summary>
    public static SpecError ResetPolicies(ClusterNode node, QuotaRuntime runtime, int tokenId, int policyIndex)
    {
        if (node.Config.Token(tokenId) is not { } doc || runtime.Engine.ReadToken(tokenId, runtime.NowMs) is not { } view)
        {
            return SpecError.TokenNotFound;
        }

        var windows = view.Policies.Where(w => w.Index < doc.Policies.Length && doc.Policies[w.Index].Enabled && (policyIndex < 0 || w.Index == policyIndex)).ToList();
        if (windows.Count == 0)
        {
            return SpecError.PolicyNotFound;
        }

        foreach (PolicyView window in windows)
        {
            node.Store.ResetWindow(node.Store.WindowAccount(tokenId, window.Index, window.PeriodStartMs));
        }

        return SpecError.None;
    }

    private static bool Save(ClusterNode node, TokenDocumentInStore doc, long budget, long expectedVersion = -1) =>
        Saved(node, node.Store.SaveDocument("t:" + doc.Id, JsonSerializer.Serialize(doc), node.Store.BudgetAccount(doc.Id), budget, expectedVersion));

    /// <summary>Applies a save here before it is answered; false when the store refused it (0: its version check failed).</summary>
    private static bool Saved(ClusterNode node, long version)
    {
        if (version == 0)
        {
            return false;
        }

        node.Config.SyncThrough(version);
        return true;
    }
}
