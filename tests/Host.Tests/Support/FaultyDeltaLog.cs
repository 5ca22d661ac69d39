using Quota.Engine.Persistence;

namespace Quota.Host.Tests.Support;

/// <summary>Fault injection (as in the engine's tests): the real FASTER log, whose commits fail while <see cref="FailCommits"/> is set.</summary>
internal sealed class FaultyDeltaLog(IDeltaLog inner) : IDeltaLog
{
    public volatile bool FailCommits;

    public long BeginAddress => inner.BeginAddress;

    public long TailAddress => inner.TailAddress;

    public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address) => inner.TryEnqueue(entry, out address);

    public void Commit()
    {
        if (FailCommits)
        {
            throw new IOException("injected: the log device rejected the write");
        }

        inner.Commit();
    }

    public IEnumerable<LogEntry> Scan(long fromAddress) => inner.Scan(fromAddress);

    public void TruncateUntil(long address) => inner.TruncateUntil(address);

    public void Dispose() => inner.Dispose();
}
