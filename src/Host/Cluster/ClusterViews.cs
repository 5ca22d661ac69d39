using Quota.Engine.Model;

namespace Quota.Host.Cluster;

/// <summary>
/// Reads in cluster mode: the local engine's view of a key (its windows, status, expiry) with the cluster's numbers in
/// place of this node's — the real quotas from the key's document, usage and leases from the store. Fresh reads (the admin
/// API, the console) ask the store, one round trip for a key or for a listing's whole page; the relay's rate-limit
/// headers use what this node's leases last heard from it (at most one report interval old) and leave the budget's
/// numbers out, so a relayed request costs no extra round trip.
/// </summary>
internal static class ClusterViews
{
    public static TokenView Overlay(ClusterNode node, TokenView local, bool fresh)
    {
        if (node.Config.Token(local.TokenId) is not { } doc)
        {
            return local;
        }

        if (!fresh)
        {
            // The rate-limit headers read the windows only: no store round trip for the budget.
            return Windows(node, doc, local, (account, localUsed) => Cached(node, account, localUsed));
        }

        var accounts = new List<string>();
        AddAccounts(node, doc, local, accounts);
        return Fresh(node, doc, local, node.Store.ReadAccounts(accounts));
    }

    /// <summary>A listing's page of keys, fresh, with one store round trip for all of them.</summary>
    public static TokenView?[] OverlayPage(ClusterNode node, TokenView?[] locals)
    {
        var docs = new TokenDocumentInStore?[locals.Length];
        var accounts = new List<string>();
        for (int i = 0; i < locals.Length; i++)
        {
            if (locals[i] is { } local && node.Config.Token(local.TokenId) is { } doc)
            {
                docs[i] = doc;
                AddAccounts(node, doc, local, accounts);
            }
        }

        Dictionary<string, AccountReading> readings = node.Store.ReadAccounts(accounts);
        var views = new TokenView?[locals.Length];
        for (int i = 0; i < locals.Length; i++)
        {
            views[i] = docs[i] is { } doc ? Fresh(node, doc, locals[i]!, readings) : locals[i];
        }

        return views;
    }

    /// <summary>Wallets with the store's numbers (the local engine's balance is lifted out of reach), in one store round trip.</summary>
    public static UserView?[] OverlayUsers(ClusterNode node, UserView?[] locals)
    {
        var accounts = new List<string>(locals.Length);
        foreach (UserView? local in locals)
        {
            if (local is not null)
            {
                accounts.Add(node.Store.WalletAccount(local.UserId));
            }
        }

        Dictionary<string, AccountReading> readings = node.Store.ReadAccounts(accounts);
        var views = new UserView?[locals.Length];
        for (int i = 0; i < locals.Length; i++)
        {
            if (locals[i] is { } local)
            {
                AccountReading wallet = readings[node.Store.WalletAccount(local.UserId)];
                views[i] = local with { QuotaUnits = wallet.Quota - wallet.Used, UsedQuotaUnits = wallet.Used, ReservedQuotaUnits = wallet.Leased };
            }
        }

        return views;
    }

    /// <summary>The store accounts a fresh read of the key needs: each enabled window's, and the budget's.</summary>
    private static void AddAccounts(ClusterNode node, TokenDocumentInStore doc, TokenView local, List<string> accounts)
    {
        foreach (PolicyView window in local.Policies)
        {
            if (window.Index < doc.Policies.Length && doc.Policies[window.Index].Enabled)
            {
                accounts.Add(node.Store.WindowAccount(doc.Id, window.Index, window.PeriodStartMs));
            }
        }

        accounts.Add(node.Store.BudgetAccount(doc.Id));
    }

    private static TokenView Fresh(ClusterNode node, TokenDocumentInStore doc, TokenView local, Dictionary<string, AccountReading> readings)
    {
        TokenView windows = Windows(node, doc, local, (account, _) => readings[account]);
        AccountReading budget = readings[node.Store.BudgetAccount(doc.Id)];
        return windows with
        {
            RemainQuotaUnits = doc.Unlimited ? 0 : budget.Quota - budget.Used,
            UsedQuotaUnits = budget.Used,
            ReservedQuotaUnits = budget.Leased,
        };
    }

    /// <summary>The key's windows with the cluster's numbers, <paramref name="read"/> giving each enabled window's account.</summary>
    private static TokenView Windows(ClusterNode node, TokenDocumentInStore doc, TokenView local, Func<string, long, AccountReading> read)
    {
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

            AccountReading counters = read(node.Store.WindowAccount(doc.Id, window.Index, window.PeriodStartMs), window.UsedQuotaUnits);
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

        return local with { Paused = local.Paused || paused, UnlimitedQuota = doc.Unlimited, Policies = policies };
    }

    /// <summary>Not fresh: an account this node leases has the store's numbers of its last report; any other is asked.</summary>
    private static AccountReading Cached(ClusterNode node, string account, long localUsed) =>
        node.Gate.Cell(account) is { Account.Kind: AccountKind.Window } cell
            ? new AccountReading(cell.Account.Quota, Math.Max(Volatile.Read(ref cell.StoreUsed), localUsed), 0, cell.Paused)
            : node.Store.ReadAccount(account);
}
