namespace Quota.Engine;

/// <summary>Hard bounds of the engine: nothing grows without one. Hitting one returns a named result.</summary>
public static class EngineLimits
{
    public const int PoliciesPerKeyMax = 4;
    /// <summary>Budget alert thresholds per account.</summary>
    public const int AlertThresholdsMax = 4;
    /// <summary>Model patterns per policy, and the longest one.</summary>
    public const int ModelsPerPolicyMax = 16;
    public const int ModelNameLengthMax = 128;
    /// <summary>Largest token estimate or count of one request.</summary>
    public const long TokensMax = uint.MaxValue;
    /// <summary>Largest estimate or actual cost of one request: 2^40 units (≈ 2.2M USD at 500k units/USD).</summary>
    public const long AmountMaxUnits = 1L << 40;
    /// <summary>Largest per-window policy quota: keeps window headroom inside its 48-bit packed field.</summary>
    public const long PolicyQuotaMaxUnits = 1L << 46;
    /// <summary>Largest wallet or key lifetime balance set by an operator.</summary>
    public const long BalanceMaxUnits = 1L << 60;
    /// <summary>Bound on CAS retries of one counter update; exceeding it means livelock, not contention.</summary>
    public const int CasRetriesMax = 1 << 20;
    /// <summary>The last instant the engine reasons about (9999-12-31T23:59:59.999Z): key expiries, clocks.</summary>
    public const long TimeMaxMs = 253_402_300_799_999;
}
