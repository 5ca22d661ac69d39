using Quota.Engine.Persistence;

namespace Quota.Host.Tests.Support;

/// <summary>
/// The real FASTER log whose commits wait while <see cref="Hold"/> is on: what was appended stays uncommitted (not
/// durable) for as long as a test needs to look at what the host answers meanwhile.
/// </summary>
internal sealed class HeldDeltaLog(IDeltaLog inner) : IDeltaLog
{
    private readonly ManualResetEventSlim open = new(initialState: true);

    /// <summary>Commits wait from now on (the one in progress finishes).</summary>
    public void Hold() => open.Reset();

    /// <summary>Commits go ahead again.</summary>
    public void Release() => open.Set();

    public long BeginAddress => inner.BeginAddress;

    public long TailAddress => inner.TailAddress;

    public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address) => inner.TryEnqueue(entry, out address);

    public void Commit()
    {
        open.Wait(TimeSpan.FromSeconds(30)); // bounded: a test that forgets to release cannot hang the host's stop
        inner.Commit();
    }

    public IEnumerable<LogEntry> Scan(long fromAddress) => inner.Scan(fromAddress);

    public void TruncateUntil(long address) => inner.TruncateUntil(address);

    public void Dispose()
    {
        open.Set();
        inner.Dispose();
        open.Dispose();
    }
}
