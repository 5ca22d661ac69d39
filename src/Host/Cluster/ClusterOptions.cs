namespace Quota.Host.Cluster;

/// <summary>
/// <c>Cluster:*</c>: several hosts sharing every key's limits through one Redis-protocol store (docs/cluster.md).
/// An empty <see cref="Store"/> is single-node mode, the default.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>A StackExchange.Redis connection string (<c>localhost:6379</c>); empty: single node.</summary>
    public string Store { get; set; } = "";

    /// <summary>This node's name in the store, unique in the cluster and the same across its restarts (its reports are counted by it).</summary>
    public string NodeId { get; set; } = "";

    /// <summary>Prefix of every store key, so that several clusters can share one store.</summary>
    public string KeyPrefix { get; set; } = "qe:";

    /// <summary>How long a lease lives in the store without being renewed; a node that stops lets its leases lapse back into headroom.</summary>
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>How often a node reports its usage, renews its leases and learns which keys the store paused.</summary>
    public int ReportIntervalMs { get; set; } = 100;

    /// <summary>How often a node looks for configuration changes it missed on the events channel.</summary>
    public int PollIntervalMs { get; set; } = 1000;

    /// <summary>A lease is sized to about this much of the account's recent demand.</summary>
    public int LeaseDemandMs { get; set; } = 500;

    /// <summary>
    /// Fail-open: while the store cannot be reached and a node's lease does not cover a request, the node may still admit up
    /// to this much per account (each policy window; a wallet or key budget per node process), in the account's metric.
    /// 0 (the default): fail closed, 503. The overshoot bound is in docs/cluster.md.
    /// </summary>
    public long FailOpenUnits { get; set; }

    public bool IsEnabled => Store.Length > 0;
}
