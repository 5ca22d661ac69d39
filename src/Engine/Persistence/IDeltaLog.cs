namespace Quota.Engine.Persistence;

/// <summary>One stored log entry: a batch of encoded delta records. Valid until the scan moves on (pooled memory).</summary>
/// <param name="Bytes">The entry as it was enqueued (the engine's encoding; opaque to the device).</param>
/// <param name="Address">Where the entry starts in the log.</param>
/// <param name="NextAddress">Where the next entry starts: a scan resumes, and a truncation cuts, there.</param>
public readonly record struct LogEntry(ReadOnlyMemory<byte> Bytes, long Address, long NextAddress);

/// <summary>
/// The port to the durable log device (FASTER's words: enqueue, commit, scan, truncate). The default device is a
/// FASTER log in the data directory; <see cref="PersistentEngine.Open"/> accepts another (another store, or a wrapper
/// that injects faults in tests). Addresses are positions that only grow. Thread-safety: enqueue and commit come from
/// the writer's one pump thread; scan and truncate from a checkpoint running at the same time, so scanning committed
/// entries must be safe while new ones are enqueued.
/// </summary>
public interface IDeltaLog : IDisposable
{
    /// <summary>The address of the oldest entry still kept (moves forward with <see cref="TruncateUntil"/>).</summary>
    long BeginAddress { get; }

    /// <summary>The address after the last entry enqueued: where the next one goes.</summary>
    long TailAddress { get; }

    /// <summary>Adds an entry to the log's memory; false when its in-memory ring is full (never spins).</summary>
    bool TryEnqueue(ReadOnlySpan<byte> entry, out long address);

    /// <summary>Makes everything enqueued so far durable; returns when it is (blocks the calling thread).</summary>
    void Commit();

    /// <summary>Committed entries from <paramref name="fromAddress"/> on, in order.</summary>
    IEnumerable<LogEntry> Scan(long fromAddress);

    /// <summary>Drops entries before <paramref name="address"/> (persisted by the next commit).</summary>
    void TruncateUntil(long address);
}
