namespace Quota.Engine.Accounts;

/// <summary>
/// Alert thresholds of one account, precomputed when the policy is saved (or a wallet's base is set), so that the
/// finish path only compares: a charge of <c>delta</c> that takes usage to <c>after</c> crosses threshold i iff
/// <c>after ≥ Units[i] &gt; after − delta</c>. Counters move by CAS, so exactly one charge crosses each threshold of a
/// window (docs/alerts.md). Immutable: swapped whole.
/// </summary>
internal sealed class AlertLevels
{
    public static readonly AlertLevels None = new([], [], 0, 0);

    private AlertLevels(int[] percents, long[] units, long baseUnits, long sinceMs)
    {
        Percents = percents;
        Units = units;
        BaseUnits = baseUnits;
        SinceMs = sinceMs;
        FromUnits = units.Length > 0 ? units[0] : long.MaxValue;
    }

    /// <summary>The thresholds in percent, ascending (each 1 … 100).</summary>
    public readonly int[] Percents;
    /// <summary>The usage at which each threshold is reached: ⌈base × percent / 100⌉, at least 1.</summary>
    public readonly long[] Units;
    /// <summary>The lowest of <see cref="Units"/> (long.MaxValue: none): below it a charge needs no further look.</summary>
    public readonly long FromUnits;
    /// <summary>What the percentages are of: a policy's quota, or a wallet's balance at its last top-up.</summary>
    public readonly long BaseUnits;
    /// <summary>A wallet's: when its base was set (the alerts' "window" start).</summary>
    public readonly long SinceMs;

    public static AlertLevels For(long baseUnits, IReadOnlyList<int> percents, long sinceMs = 0)
    {
        if (baseUnits <= 0 || percents.Count == 0)
        {
            return None;
        }

        var units = new long[percents.Count];
        for (int i = 0; i < units.Length; i++)
        {
            units[i] = Math.Max(1, (long)Math.Ceiling((decimal)baseUnits * percents[i] / 100)); // decimal: no overflow at 2^60
        }

        return new AlertLevels([.. percents], units, baseUnits, sinceMs);
    }

    /// <summary>Whether moving usage by <paramref name="delta"/> to <paramref name="after"/> reached threshold <paramref name="i"/>.</summary>
    public bool Crossed(int i, long after, long delta) => after >= Units[i] && after - delta < Units[i];
}
