using System.Buffers;
using FASTER.core;

namespace Quota.Engine.Persistence;

/// <summary>
/// The delta log on Microsoft FASTER's FasterLog (the only file that imports FASTER). Every setting is explicit
/// (sizes are bytes, whatever FASTER's XML docs say); recovery runs explicitly so its errors surface instead of being swallowed by the
/// constructor; entries carry FASTER's own per-entry checksum on top of ours per record.
/// Dispose does not commit: the writer commits before disposing.
/// </summary>
internal sealed class FasterDeltaLog : IDeltaLog
{
    private readonly IDevice device;
    private readonly FasterLogSettings settings;
    private readonly FasterLog log;
    // The pump blocks on this while FASTER commits; spin count 0, like the pump's own wake (see Commit).
    private readonly ManualResetEventSlim committed = new(false, spinCount: 0);
    private readonly Action signalCommitted;

    public FasterDeltaLog(string directory)
    {
        Directory.CreateDirectory(directory);
        device = Devices.CreateLogDevice(Path.Combine(directory, "delta.log"), preallocateFile: false, deleteOnClose: false);
        settings = new FasterLogSettings
        {
            LogDevice = device,
            PageSize = 1L << 20,
            MemorySize = 1L << 23,
            SegmentSize = 1L << 26,
            LogCommitDir = Path.Combine(directory, "commits"),
            MutableFraction = 0,
            LogChecksum = LogChecksumType.PerEntry,
            TryRecoverLatest = false,
            AutoCommit = false,
            AutoRefreshSafeTailAddress = false,
            FastCommitMode = false,
            RemoveOutdatedCommits = true,
            ReadOnlyMode = false,
            TolerateDeviceFailure = false,
        };
        signalCommitted = committed.Set;
        log = new FasterLog(settings);
        log.Recover(); // throws on a damaged commit record instead of silently starting empty
    }

    public long BeginAddress => log.BeginAddress;

    public long TailAddress => log.TailAddress;

    public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address) => log.TryEnqueue(entry, out address);

    // FASTER's Commit(spinWait: true) spins the caller through the whole fsync (≈ 1.4 ms): the pump would burn a core
    // at every group commit. Its asynchronous commit completes when the commit is durable; the pump thread blocks on an
    // event the completion sets. Not Task.Wait: that spins before it blocks, at every commit (200 a second at 5 ms).
    public void Commit()
    {
        Task commit = log.CommitAsync().AsTask();
        if (!commit.IsCompleted)
        {
            committed.Reset();
            commit.GetAwaiter().UnsafeOnCompleted(signalCommitted);
            committed.Wait();
        }

        commit.GetAwaiter().GetResult(); // completed: throws what the commit threw, without waiting
    }

    public IEnumerable<LogEntry> Scan(long fromAddress)
    {
        using FasterLogScanIterator iterator = log.Scan(Math.Max(fromAddress, log.BeginAddress), long.MaxValue, scanUncommitted: false);
        // Pooled buffers: entries are up to 256 KB, and a fresh array each would churn the large-object heap.
        while (iterator.GetNext(MemoryPool<byte>.Shared, out IMemoryOwner<byte> entry, out int length, out long address, out long nextAddress))
        {
            using (entry)
            {
                yield return new LogEntry(entry.Memory[..length], address, nextAddress);
            }
        }
    }

    public void TruncateUntil(long address) => log.TruncateUntil(address);

    public void Dispose()
    {
        log.Dispose();
        committed.Dispose();
        device.Dispose();
        settings.Dispose();
    }
}
