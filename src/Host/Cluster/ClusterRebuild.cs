namespace Quota.Host.Cluster;

/// <summary>Whether a node admits: the store carries the epoch it knows (serving), or not (lost), or it has contributed to the store's rebuild and waits for the other nodes.</summary>
public enum StoreState
{
    Serving,
    Lost,
    Rebuilding,
}

/// <summary>
/// What one node gives a store that lost its data (docs/cluster.md "Store data loss"), once a rebuild of the epoch it
/// knew is under way: the configuration documents it kept (<see cref="ClusterLedger"/>; the newest version of each wins),
/// then its cumulative usage of every account (as a report counts it: the largest total a node reports wins, nothing is
/// counted twice) with a lease of what its open reservations hold, then word that it is done.
/// </summary>
internal sealed class ClusterRebuild(Runtime.QuotaRuntime runtime, ClusterStore store, ClusterConfig config, ClusterReports reports, ClusterLedger ledger, ClusterOptions options)
{
    private const int DocumentsPerCall = 200;
    private const int AccountsPerCall = 300;

    /// <summary>The epoch this node contributed from (its rebuild's), or null.</summary>
    public string? From { get; private set; }

    /// <summary>Contributes everything this node has to the rebuild from its epoch into <paramref name="to"/>; returns <paramref name="to"/>.</summary>
    public async Task<string> ContributeAsync(LeaseGate gate, string to)
    {
        string from = store.Epoch;
        List<LedgerDocument> documents = [.. ledger.All()];
        for (int i = 0; i == 0 || i < documents.Count; i += DocumentsPerCall)
        {
            await store.MergeDocumentsAsync(from, config.Version, documents.GetRange(i, Math.Max(0, Math.Min(DocumentsPerCall, documents.Count - i)))).ConfigureAwait(false);
        }

        var lease = TimeSpan.FromSeconds(options.LeaseSeconds);
        List<(AccountRef Account, AccountReport Report, long Held)> accounts = reports.Everything(runtime.NowMs);
        for (int i = 0; i < accounts.Count; i += AccountsPerCall)
        {
            List<(AccountReport, long)> batch = [.. accounts.GetRange(i, Math.Min(AccountsPerCall, accounts.Count - i)).Select(a => (a.Report, a.Held))];
            await store.ContributeAsync(from, batch, lease).ConfigureAwait(false);
        }

        foreach ((AccountRef account, _, long held) in accounts)
        {
            if (held > 0)
            {
                gate.Adopt(account, held); // the store leases it again until they have ended
                gate.Recovered(account.TokenId);
            }
        }

        await store.ContributedAsync(from).ConfigureAwait(false);
        From = from;
        return to;
    }
}
