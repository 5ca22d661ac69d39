using Quota.Engine.Persistence;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The dashboard's numbers: per-hour counters of the log's consume and refusal rows, added in the same LiteDB
/// transaction as the rows themselves (<see cref="ILogRollup"/>, stored in <c>rollup_hours</c>), and held in memory for
/// the pages: models and refusals for <see cref="DaysKept"/> days, keys for <see cref="KeyHoursKept"/> hours (the top
/// lists' window). Rebuilt from the stored counters at start. A crash loses what the log loses (the writer's unwritten
/// batch): a batch's rows and its counters commit together or not at all. docs/operations.md "Dashboard".
/// </summary>
internal sealed class UsageRollup : ILogRollup
{
    public const int DaysKept = 31;
    public const int KeyHoursKept = 25;

    private readonly object gate = new();
    private readonly SortedDictionary<long, HourCounters> hours = [];
    private readonly LiteConfigStore store;
    private readonly Func<long> nowMs;
    private long prunedHour;
    /// <summary>Each key's sums over the hours from <see cref="keyWindowStart"/> on (the top lists' window), kept as hours arrive and leave.</summary>
    private readonly Dictionary<int, Counters> keyWindow = [];
    private long keyWindowStart;
    private readonly Action<IReadOnlyCollection<LogDocument>> rowsWritten;

    /// <param name="store">Where the counters are kept; this rollup is attached to it (every later batch of rows is counted).</param>
    /// <param name="nowMs">The host's clock.</param>
    /// <param name="rowsWritten">Told of every written batch after its commit (the watched keys).</param>
    public UsageRollup(LiteConfigStore store, Func<long> nowMs, Action<IReadOnlyCollection<LogDocument>> rowsWritten)
    {
        ArgumentNullException.ThrowIfNull(store);
        this.store = store;
        this.nowMs = nowMs;
        this.rowsWritten = rowsWritten;
        long now = nowMs();
        long oldest = OldestKept(now);
        keyWindowStart = KeyWindowStart(now);
        foreach (RollupDocument stored in store.Rollups(oldest))
        {
            if (stored.Family != RollupDimensions.Key || stored.HourMs >= OldestKeyHour(now))
            {
                Add(stored);
            }
        }

        store.Rollup = this;
    }

    /// <summary>Why the last batch could not be counted in memory (the stored counters are right; a restart reloads them).</summary>
    public string? Fault { get; private set; }

    public IReadOnlyCollection<RollupDocument> Of(IReadOnlyCollection<LogDocument> rows) => RollupDimensions.Of(rows);

    public void Committed(IReadOnlyCollection<RollupDocument> increments, IReadOnlyCollection<LogDocument> rows)
    {
        // Runs after the commit: an exception here would make the writer write the batch again, so none leaves.
        try
        {
            long now = nowMs();
            lock (gate)
            {
                foreach (RollupDocument increment in increments)
                {
                    Add(increment);
                }

                Prune(now);
            }

            if (RollupDimensions.HourOf(now) != prunedHour)
            {
                // Once an hour, the stored counters no page reads any more go too (kept: what a restart reloads).
                prunedHour = RollupDimensions.HourOf(now);
                store.PruneRollups(RollupDimensions.Key, OldestKeyHour(now));
                store.PruneRollups(RollupDimensions.Model, OldestKept(now));
                store.PruneRollups(RollupDimensions.Refusal, OldestKept(now));
            }

            rowsWritten(rows);
            Fault = null;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Fault = exception.Message;
        }
    }

    /// <summary>
    /// Reads each key's sums over its last <see cref="KeyWindowHours"/> hours (the current hour and the ones before) under
    /// the lock: one entry per key that had a request, whatever the traffic per hour.
    /// </summary>
    public void ReadKeyWindow(Action<int, Counters> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        lock (gate)
        {
            AdvanceKeyWindow(nowMs());
            foreach ((int tokenId, Counters counters) in keyWindow)
            {
                visit(tokenId, counters);
            }
        }
    }

    /// <summary>Reads the counters of the hours from <paramref name="fromHourMs"/> (inclusive) to <paramref name="toHourMs"/> (exclusive) under the lock.</summary>
    public void Read(long fromHourMs, long toHourMs, Action<long, HourCounters> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        lock (gate)
        {
            foreach ((long hour, HourCounters counters) in hours)
            {
                if (hour >= fromHourMs && hour < toHourMs)
                {
                    visit(hour, counters);
                }
            }
        }
    }

    private void Add(RollupDocument increment)
    {
        if (!hours.TryGetValue(increment.HourMs, out HourCounters? hour))
        {
            hours[increment.HourMs] = hour = new HourCounters();
        }

        switch (increment.Family)
        {
            case RollupDimensions.Model:
                Counters model = Get(hour.Models, (increment.Group, increment.Name));
                model.Add(increment.Requests, increment.Units, increment.Tokens);
                break;
            case RollupDimensions.Key:
                Counters key = Get(hour.Keys, increment.TokenId);
                key.UserId = increment.UserId;
                key.Add(increment.Requests, increment.Units, increment.Tokens);
                if (increment.HourMs >= keyWindowStart)
                {
                    Counters sum = Get(keyWindow, increment.TokenId);
                    sum.UserId = increment.UserId;
                    sum.Add(increment.Requests, increment.Units, increment.Tokens);
                }

                break;
            case RollupDimensions.Refusal:
                Get(hour.Refusals, (increment.Name, increment.PolicyIndex, increment.Group)).Add(increment.Requests, 0, 0);
                break;
        }
    }

    private static Counters Get<TKey>(Dictionary<TKey, Counters> table, TKey key) where TKey : notnull
    {
        if (!table.TryGetValue(key, out Counters? counters))
        {
            table[key] = counters = new Counters();
        }

        return counters;
    }

    /// <summary>Takes the hours that left the key window out of its sums.</summary>
    private void AdvanceKeyWindow(long now)
    {
        long start = KeyWindowStart(now);
        if (start <= keyWindowStart)
        {
            return;
        }

        foreach ((long hour, HourCounters counters) in hours)
        {
            if (hour >= start)
            {
                break;
            }

            if (hour < keyWindowStart)
            {
                continue;
            }

            foreach ((int tokenId, Counters leaving) in counters.Keys)
            {
                if (keyWindow.TryGetValue(tokenId, out Counters? sum))
                {
                    sum.Add(-leaving.Requests, -leaving.Units, -leaving.Tokens);
                    if (sum.Requests <= 0)
                    {
                        keyWindow.Remove(tokenId);
                    }
                }
            }
        }

        keyWindowStart = start;
    }

    private void Prune(long now)
    {
        AdvanceKeyWindow(now); // before the hours it subtracts are cleared
        long oldest = OldestKept(now), oldestKeys = OldestKeyHour(now);
        while (hours.Count > 0 && hours.First() is { Key: var first } && first < oldest)
        {
            hours.Remove(first);
        }

        foreach ((long hour, HourCounters counters) in hours)
        {
            if (hour >= oldestKeys)
            {
                break;
            }

            counters.Keys.Clear();
        }
    }

    private static long OldestKept(long now) => RollupDimensions.HourOf(now) - ((DaysKept * 24L) * RollupDimensions.HourMs);

    /// <summary>The hours the top lists sum: the current one and the 23 before it.</summary>
    public const int KeyWindowHours = 24;

    private static long KeyWindowStart(long now) => RollupDimensions.HourOf(now) - ((KeyWindowHours - 1) * RollupDimensions.HourMs);

    private static long OldestKeyHour(long now) => RollupDimensions.HourOf(now) - (KeyHoursKept * RollupDimensions.HourMs);
}

/// <summary>One hour's counters: per (provider, model), per key, per (reason, policy position, period).</summary>
internal sealed class HourCounters
{
    public Dictionary<(string Provider, string Model), Counters> Models { get; } = [];
    public Dictionary<int, Counters> Keys { get; } = [];
    public Dictionary<(string Reason, int Policy, string Period), Counters> Refusals { get; } = [];
}

/// <summary>Requests, quota units and tokens of one dimension (a key's also names its user).</summary>
internal sealed class Counters
{
    public long Requests { get; private set; }
    public long Units { get; private set; }
    public long Tokens { get; private set; }
    public int UserId { get; set; }

    public void Add(long requests, long units, long tokens)
    {
        Requests += requests;
        Units += units;
        Tokens += tokens;
    }
}
