namespace Quota.Engine.Windows;

/// <summary>
/// When each policy window ends, earliest first: what the background rollover visits, so a tick costs the windows that
/// are due, not one look at every key (docs/design.md "Resets"). An entry (end, key, position) is added whenever a window
/// starts or moves (a rollover, a save) and is only a hint: the rollover checks the window it names, and an entry whose
/// window has since ended elsewhere (a lazy rollover on a request, another save, a delete) is dropped when it comes up.
/// Cold paths only (a window starts at most once per window per key), so one lock guards it; the request path touches
/// it only when it rolls a window itself.
/// </summary>
internal sealed class RolloverSchedule
{
    private const int PositionBits = 2; // EngineLimits.PoliciesPerKeyMax = 4 positions
    private readonly PriorityQueue<long, long> dueEnds = new();
    private readonly Lock gate = new();

    /// <summary>Entries held, stale ones included (tests, and the compaction rule of the rollover).</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return dueEnds.Count;
            }
        }
    }

    /// <summary>Adds the window of position <paramref name="index"/> of key <paramref name="tokenId"/> that ends at <paramref name="endMs"/>.</summary>
    public void Add(long endMs, int tokenId, int index)
    {
        lock (gate)
        {
            dueEnds.Enqueue(((long)tokenId << PositionBits) | (uint)index, endMs);
        }
    }

    /// <summary>Takes the earliest entry that ended at or before <paramref name="nowMs"/>; false when none has.</summary>
    public bool TryTakeDue(long nowMs, out long endMs, out int tokenId, out int index)
    {
        lock (gate)
        {
            if (dueEnds.TryPeek(out long entry, out endMs) && endMs <= nowMs)
            {
                dueEnds.Dequeue();
                tokenId = (int)(entry >> PositionBits);
                index = (int)(entry & ((1 << PositionBits) - 1));
                return true;
            }
        }

        endMs = 0;
        tokenId = 0;
        index = 0;
        return false;
    }

    /// <summary>Forgets every entry (before a rebuild from the keys themselves).</summary>
    public void Clear()
    {
        lock (gate)
        {
            dueEnds.Clear();
        }
    }
}
