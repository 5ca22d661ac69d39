namespace Quota.Engine;

/// <summary>
/// Hard bounds of the engine: nothing grows without one. Hitting one returns a named result (<see cref="Model.SpecError"/>,
/// <see cref="Model.ReserveResult"/>, <see cref="Model.FinishResult"/>), never an exception. Units: quota units (the
/// caller's money unit), tokens, UTC Unix milliseconds or minutes, as each name says.
/// </summary>
public static class EngineLimits
{
    /// <summary>Periodic policies one key can carry (positions 0 … 3).</summary>
    public const int PoliciesPerKeyMax = 4;
    /// <summary>Budget alert thresholds per account.</summary>
    public const int AlertThresholdsMax = 4;
    /// <summary>Model patterns per policy, and the longest one.</summary>
    public const int ModelsPerPolicyMax = 16;
    /// <summary>The longest model id or pattern, in characters (a request's model and a policy's patterns).</summary>
    public const int ModelNameLengthMax = 128;
    /// <summary>Largest token estimate or count of one request.</summary>
    public const long TokensMax = uint.MaxValue;
    /// <summary>Largest estimate or actual cost of one request: 2^40 units (≈ 2.2M USD at 500k units/USD).</summary>
    public const long AmountMaxUnits = 1L << 40;
    /// <summary>Largest per-window policy quota: keeps window headroom inside its 48-bit packed field.</summary>
    public const long PolicyQuotaMaxUnits = 1L << 46;
    /// <summary>Largest wallet or key lifetime balance set by an operator.</summary>
    public const long BalanceMaxUnits = 1L << 60;
    /// <summary>Grants one <see cref="QuotaEngine.ReserveAsync"/> asks for at most (each short window may need one, and another node's requests may take a grant first).</summary>
    public const int LeaseAttemptsMax = (2 * PoliciesPerKeyMax) + 2;
    /// <summary>Bound on CAS retries of one counter update; exceeding it means livelock, not contention.</summary>
    internal const int CasRetriesMax = 1 << 20;
    /// <summary>The last instant the engine reasons about (9999-12-31T23:59:59.999Z): key expiries, clocks.</summary>
    public const long TimeMaxMs = 253_402_300_799_999;
    /// <summary>Earliest policy anchor (<see cref="Model.QuotaPolicySpec.AnchorMs"/>): 2000-01-01T00:00Z.</summary>
    public const long PolicyAnchorMinMs = Windows.WindowRule.AnchorMinMs;
    /// <summary>Latest policy anchor: 2100-01-01T00:00Z.</summary>
    public const long PolicyAnchorMaxMs = Windows.WindowRule.AnchorMaxMs;
    /// <summary>Shortest custom window of a spend (<see cref="Model.PolicyMetric.Quota"/>) policy, in minutes.</summary>
    public const int CustomMinutesMin = Windows.WindowRule.CustomMinutesMin;
    /// <summary>Shortest custom window of a tokens or requests policy (a per-minute limit), in minutes.</summary>
    public const int RateCustomMinutesMin = Windows.WindowRule.RateCustomMinutesMin;
    /// <summary>Longest custom window, in minutes (365 days).</summary>
    public const int CustomMinutesMax = Windows.WindowRule.CustomMinutesMax;
}
