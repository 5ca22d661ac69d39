using System.Collections.Concurrent;
using System.Net;

namespace Quota.Host.Runtime;

/// <summary>
/// Failed authentications per client address in fixed windows (<see cref="FailedAuthThrottle"/>): a window opens at an
/// address's first failure and lasts <c>window</c>; the failure past <c>limit</c> in it is refused until it ends. Nothing
/// runs on a timer (a partitioned rate limiter's replenishing timer woke the host ten times a second, idle or not):
/// windows are judged when a failure arrives, and ended ones are swept when the map has doubled since the last sweep.
/// </summary>
internal sealed class FailureWindows(int limit, TimeSpan window, TimeProvider time)
{
    private readonly ConcurrentDictionary<IPAddress, Window> windows = new();
    private readonly long windowMs = (long)window.TotalMilliseconds;
    private int sweepAt = 1024;

    /// <summary>How many addresses have a window (ended ones until the next sweep).</summary>
    public int Count => windows.Count;

    /// <summary>Counts a failure of <paramref name="address"/>; returns how long it must wait when it is over the limit, else null.</summary>
    public TimeSpan? Fail(IPAddress address)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        Window current = windows.GetOrAdd(address, static (_, startMs) => new Window(startMs), now);
        long endsMs;
        int failures;
        lock (current)
        {
            if (now >= current.StartMs + windowMs)
            {
                (current.StartMs, current.Failures) = (now, 0); // the window ended: this failure opens the next
            }

            failures = ++current.Failures;
            endsMs = current.StartMs + windowMs;
        }

        SweepIfGrown(now);
        return failures > limit ? TimeSpan.FromMilliseconds(endsMs - now) : null;
    }

    private void SweepIfGrown(long now)
    {
        int at = Volatile.Read(ref sweepAt);
        if (windows.Count < at || Interlocked.CompareExchange(ref sweepAt, int.MaxValue, at) != at)
        {
            return; // not grown enough, or another thread sweeps
        }

        foreach (KeyValuePair<IPAddress, Window> entry in windows)
        {
            if (now >= Volatile.Read(ref entry.Value.StartMs) + windowMs)
            {
                windows.TryRemove(entry);
            }
        }

        Volatile.Write(ref sweepAt, Math.Max(1024, windows.Count * 2));
    }

    private sealed class Window(long startMs)
    {
        public long StartMs = startMs;
        public int Failures;
    }
}
