using System.Collections.Concurrent;

namespace Quota.Host.Runtime;

/// <summary>
/// The keys whose display status the engine changed without a write through the host — a policy paused or restored
/// them (audit events, handed here by <see cref="Alerts.AlertSink"/>) — for the key index to read again before it answers
/// a status filter. Enqueued lock-free on the finish and rollover paths; bounded by the pauses and restores between two
/// status filters.
/// </summary>
public sealed class KeyStatusChanges
{
    private readonly ConcurrentQueue<int> changed = new();

    public void Mark(int tokenId) => changed.Enqueue(tokenId);

    public bool TryTake(out int tokenId) => changed.TryDequeue(out tokenId);
}
