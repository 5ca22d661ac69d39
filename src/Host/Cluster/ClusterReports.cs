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
    /// Every account of the keys whose usage may have moved since the last sweep without a lease report covering it —
    /// <paramref name="moved"/>: the keys of the reservations the gate finished (settles, refunds, expiries) and of the
    /// open reservations a restart recovered — and whose usage did move. Bounded by the traffic, never a scan of every key
    /// (docs/cluster.md "Reports").
    /// </summary>
    public List<AccountReport> Sweep(IEnumerable<int> moved, long nowMs)
    {
        var reports = new List<AccountReport>();
        var walletsDone = new HashSet<int>();
        foreach (int tokenId in moved)
        {
            if (config.Token(tokenId) is not { } doc || runtime.Engine.ReadToken(tokenId, nowMs) is not { } view ||
                (sweptUsage.TryGetValue(tokenId, out long before) && before == view.UsedQuotaUnits))
            {
                continue;
            }

            sweptUsage[tokenId] = view.UsedQuotaUnits;
            foreach (AccountRef account in AccountsOf(doc, view, walletsDone))
            {
                reports.Add(Of(account, new Dictionary<int, TokenView?> { [tokenId] = view }));
            }
        }

        return reports;
    }

    /// <summary>Every key this node's engine has (a start's sweep, a rebuild's contribution): ids 1 … the last one.</summary>
    public IEnumerable<int> AllTokens()
    {
        for (int tokenId = 1; tokenId <= runtime.Engine.LastTokenId; tokenId++)
        {
            yield return tokenId;
        }
    }

    /// <summary>
    /// Every account of every key this node knows, with its report and what this node's open reservations hold on it: what
    /// a rebuild of the store needs from this node (docs/cluster.md "Store data loss").
    /// </summary>
    public List<(AccountRef Account, AccountReport Report, long Held)> Everything(long nowMs)
    {
        var all = new List<(AccountRef, AccountReport, long)>();
        var walletsDone = new HashSet<int>();
        foreach (int tokenId in AllTokens())
        {
            if (config.Token(tokenId) is { } doc && runtime.Engine.ReadToken(tokenId, nowMs) is { } view)
            {
                var views = new Dictionary<int, TokenView?> { [tokenId] = view };
                foreach (AccountRef account in AccountsOf(doc, view, walletsDone))
                {
                    all.Add((account, Of(account, views), Held(account, views)));
                }
            }
        }

        return all;
    }

    /// <summary>The accounts of a key: its user's wallet (once per user in <paramref name="walletsDone"/>), its budget (unlimited keys too: their usage is counted there), each enabled policy's current window.</summary>
    private IEnumerable<AccountRef> AccountsOf(TokenDocumentInStore doc, TokenView view, HashSet<int> walletsDone)
    {
        if (walletsDone.Add(doc.UserId))
        {
            yield return AccountRef.Wallet(store, doc);
        }

        yield return AccountRef.Budget(store, doc);
        foreach (PolicyView window in view.Policies)
        {
            if (AccountRef.Window(store, doc, window) is { } account)
            {
                yield return account;
            }
        }
    }

    /// <summary>What this node's open reservations hold on the account (in its metric): the lease it must keep after a restart or a rebuild.</summary>
    public long Held(AccountRef a, Dictionary<int, TokenView?> views)
    {
        if (a.Kind == AccountKind.Wallet)
        {
            return runtime.Engine.ReadUser(a.UserId)?.ReservedQuotaUnits ?? 0;
        }

        TokenView? view = View(a, views);
        if (view is null || a.Kind == AccountKind.Budget)
        {
            return view?.ReservedQuotaUnits ?? 0;
        }

        return Window(a, view)?.ReservedQuotaUnits ?? 0;
    }

    private TokenView? View(AccountRef a, Dictionary<int, TokenView?> views)
    {
        if (!views.TryGetValue(a.TokenId, out TokenView? view))
        {
            views[a.TokenId] = view = runtime.Engine.ReadToken(a.TokenId, runtime.NowMs);
        }

        return view;
    }

    private static PolicyView? Window(AccountRef a, TokenView view)
    {
        foreach (PolicyView window in view.Policies)
        {
            if (window.Index == a.PolicyIndex && window.PeriodStartMs == a.WindowStartMs)
            {
                return window;
            }
        }

        return null;
    }

    /// <summary>This node's cumulative usage of the account (-1: unknown here now, e.g. a window the local engine has left).</summary>
    public long UsedTotal(AccountRef a, Dictionary<int, TokenView?> views)
    {
        if (a.Kind == AccountKind.Wallet)
        {
            return runtime.Engine.ReadUser(a.UserId)?.UsedQuotaUnits ?? -1;
        }

        TokenView? view = View(a, views);
        if (view is null)
        {
            return -1;
        }

        return a.Kind == AccountKind.Budget ? view.UsedQuotaUnits : Window(a, view)?.UsedQuotaUnits ?? -1;
    }
}
