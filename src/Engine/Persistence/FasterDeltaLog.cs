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
        log = new FasterLog(settings);
        log.Recover(); // throws on a damaged commit record instead of silently starting empty
    }

    public long BeginAddress => log.BeginAddress;

    public long TailAddress => log.TailAddress;

    public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address) => log.TryEnqueue(entry, out address);

    // FASTER's Commit(spinWait: true) spins the caller through the whole fsync (≈ 1.4 ms): the pump would burn a core
    // at every group commit. Its asynchronous commit completes when the commit is durable; the pump thread blocks on it.
    public void Commit() => log.CommitAsync().AsTask().GetAwaiter().GetResult();

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
        device.Dispose();
        settings.Dispose();
    }
}
