using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// What this node tells the store it used: for each account, its cumulative usage as the local engine counts it (the
/// engine's log makes that count survive a crash, so after a restart the node reports what it had not reported yet,
/// and the store, taking only what is above the last report, never counts anything twice).
/// </summary>
internal sealed class ClusterReports(QuotaRuntime runtime, ClusterStore store, ClusterConfig config)
{
    private readonly Dictionary<int, long> sweptUsage = [];

    /// <summary>The report of one leased account (renewing its lease even when the local window has moved on: -1 used).</summary>
    public AccountReport Of(AccountRef a, Dictionary<int, TokenView?> views) =>
        new(a.Key, UsedTotal(a, views), a.Kind == AccountKind.Window ? a.Quota : -1, a.Pauses, LeaseGate.ExpireAt(a));

    /// <summary>
    /// Every account of every key whose usage moved since the last sweep, leased here or not: reservations that a crash
    /// left open, expiries, settles of keys this node holds no lease on.
    /// </summary>
    public List<AccountReport> Sweep(long nowMs)
    {
        var reports = new List<AccountReport>();
        var walletsDone = new HashSet<int>();
        for (int tokenId = 1; tokenId <= runtime.Engine.LastTokenId; tokenId++)
        {
            if (config.Token(tokenId) is not { } doc || runtime.Engine.ReadToken(tokenId, nowMs) is not { } view ||
                (sweptUsage.TryGetValue(tokenId, out long before) && before == view.UsedQuotaUnits))
            {
                continue;
            }

            sweptUsage[tokenId] = view.UsedQuotaUnits;
            var views = new Dictionary<int, TokenView?> { [tokenId] = view };
            if (walletsDone.Add(doc.UserId))
            {
                reports.Add(Of(AccountRef.Wallet(store, doc), views));
            }

            reports.Add(Of(AccountRef.Budget(store, doc), views)); // unlimited keys too: their usage is counted there
            foreach (PolicyView window in view.Policies)
            {
                if (AccountRef.Window(store, doc, window) is { } account)
                {
                    reports.Add(Of(account, views));
                }
            }
        }

        return reports;
    }

    /// <summary>
    /// What this node's recovered open reservations hold on the account whose store key is <paramref name="account"/>
    /// (in its metric): the lease it must keep after a restart. 0 for an account it no longer has.
    /// </summary>
    public long HeldAfterRestart(string account, long nowMs)
    {
        string[] parts = account[store.AccountsPrefix.Length..].Split(':'); // kind, id[, policy index, window start]
        string kind = parts[0];
        int id = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        if (kind == "w")
        {
            return runtime.Engine.ReadUser(id)?.ReservedQuotaUnits ?? 0;
        }

        TokenView? view = runtime.Engine.ReadToken(id, nowMs);
        if (kind == "k" || view is null)
        {
            return view?.ReservedQuotaUnits ?? 0;
        }

        int index = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        long start = long.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture);
        return view.Policies.FirstOrDefault(w => w.Index == index && w.PeriodStartMs == start)?.ReservedQuotaUnits ?? 0;
    }

    /// <summary>This node's cumulative usage of the account (-1: unknown here now, e.g. a window the local engine has left).</summary>
    private long UsedTotal(AccountRef a, Dictionary<int, TokenView?> views)
    {
        if (a.Kind == AccountKind.Wallet)
        {
            return runtime.Engine.ReadUser(a.UserId)?.UsedQuotaUnits ?? -1;
        }

        if (!views.TryGetValue(a.TokenId, out TokenView? view))
        {
            views[a.TokenId] = view = runtime.Engine.ReadToken(a.TokenId, runtime.NowMs);
        }

        if (view is null)
        {
            return -1;
        }

        if (a.Kind == AccountKind.Budget)
        {
            return view.UsedQuotaUnits;
        }

        foreach (PolicyView window in view.Policies)
        {
            if (window.Index == a.PolicyIndex && window.PeriodStartMs == a.WindowStartMs)
            {
                return window.UsedQuotaUnits;
            }
        }

        return -1;
    }
}
