namespace Quota.Host.Cluster;

/// <summary>Cluster mode's log messages (source-generated).</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster node {NodeId} joined at configuration version {Version}")]
    public static partial void Joined(ILogger logger, string nodeId, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster store is unreachable: {Reason} (leases lapse here by time; then requests get 503)")]
    public static partial void StoreUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Cluster:NodeId {NodeId} was taken by another process while this one could not reach the store: give every node its own id")]
    public static partial void NodeIdTaken(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The store's document {Member} could not be applied here: {Error}")]
    public static partial void ApplyFailed(ILogger logger, string member, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Applying the cluster's configuration failed; the next announcement or poll tries again")]
    public static partial void SyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Cluster node {NodeId}: the store does not carry epoch {Epoch} any more (it lost its data, or another cluster wrote it): admitting nothing until the store is rebuilt (docs/cluster.md \"Store data loss\")")]
    public static partial void StoreLost(ILogger logger, string nodeId, string epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster node {NodeId}: the store was rebuilt (epoch {Epoch}); admitting again")]
    public static partial void StoreRebuilt(ILogger logger, string nodeId, string epoch);
}
