using Quota.Engine.Model;

namespace Quota.Host.Cluster;

/// <summary>
/// Reads in cluster mode: the local engine's view of a key (its windows, status, expiry) with the cluster's numbers in
/// place of this node's — the real quotas from the key's document, usage and leases from the store. Fresh reads (the admin
/// API, the console) ask the store; the relay's rate-limit headers use what this node's leases last heard from it (at most
/// one report interval old) and leave the budget's numbers out, so a relayed request costs no extra round trip.
/// </summary>
internal static class ClusterViews
{
    public static TokenView Overlay(ClusterNode node, TokenView local, bool fresh)
    {
        if (node.Config.Token(local.TokenId) is not { } doc)
        {
            return local;
        }

        var policies = new List<PolicyView>(local.Policies.Count);
        bool paused = false;
        foreach (PolicyView window in local.Policies)
        {
            if (window.Index >= doc.Policies.Length)
            {
                continue;
            }

            QuotaPolicySpec spec = doc.Policies[window.Index];
            if (!spec.Enabled)
            {
                policies.Add(window with { Spec = spec });
                continue;
            }

            AccountReading counters = Read(node, node.Store.WindowAccount(doc.Id, window.Index, window.PeriodStartMs), fresh, window.UsedQuotaUnits);
            bool pauses = counters.Paused && spec.ExhaustedAction == ExhaustedAction.DisableToken;
            paused |= pauses;
            policies.Add(window with
            {
                Spec = spec,
                UsedQuotaUnits = counters.Used,
                ReservedQuotaUnits = counters.Leased,
                PausesKey = pauses,
                ExhaustedAtMs = counters.Used >= spec.QuotaUnits ? Math.Max(window.ExhaustedAtMs, window.PeriodStartMs) : 0,
            });
        }

        TokenView windows = local with { Paused = local.Paused || paused, UnlimitedQuota = doc.Unlimited, Policies = policies };
        if (!fresh)
        {
            return windows; // the rate-limit headers read the windows only: no store round trip for the budget
        }

        AccountReading budget = node.Store.ReadAccount(node.Store.BudgetAccount(doc.Id));
        return windows with
        {
            RemainQuotaUnits = doc.Unlimited ? 0 : budget.Quota - budget.Used,
            UsedQuotaUnits = budget.Used,
            ReservedQuotaUnits = budget.Leased,
        };
    }

    public static UserView Overlay(ClusterNode node, UserView local)
    {
        AccountReading wallet = node.Store.ReadAccount(node.Store.WalletAccount(local.UserId));
        return local with { QuotaUnits = wallet.Quota - wallet.Used, UsedQuotaUnits = wallet.Used, ReservedQuotaUnits = wallet.Leased };
    }

    private static AccountReading Read(ClusterNode node, string account, bool fresh, long localUsed)
    {
        // Not fresh: an account this node leases has the store's numbers of its last report; any other is asked.
        return !fresh && node.Gate.Cell(account) is { Account.Kind: AccountKind.Window } cell
            ? new AccountReading(cell.Account.Quota, Math.Max(Volatile.Read(ref cell.StoreUsed), localUsed), 0, cell.Paused)
            : node.Store.ReadAccount(account);
    }
}
