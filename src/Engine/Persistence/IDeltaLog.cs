namespace Quota.Engine.Persistence;

/// <summary>One stored log entry: a batch of encoded delta records. Valid until the scan moves on (pooled memory).</summary>
public readonly record struct LogEntry(ReadOnlyMemory<byte> Bytes, long Address, long NextAddress);

/// <summary>
/// The port to the durable log device (FASTER's words: enqueue, commit, scan, truncate). Only
/// <see cref="FasterDeltaLog"/> talks to FASTER; tests wrap it to inject faults.
/// </summary>
public interface IDeltaLog : IDisposable
{
    long BeginAddress { get; }

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
