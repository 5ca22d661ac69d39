namespace Quota.Engine.Model;

// Values are part of the delta-log and API contracts: never renumber, only append.

/// <summary>How a policy's windows are laid out in time.</summary>
public enum PeriodMode : byte
{
    Preset5h = 1,
    Daily = 2,
    Weekly = 3,
    Monthly = 4,
    Custom = 5,
}

/// <summary>What a policy counts (docs/design.md "Metrics and scope").</summary>
public enum PolicyMetric : byte
{
    /// <summary>Quota units: the request's cost (spend policies).</summary>
    Quota = 0,
    /// <summary>Prompt + completion tokens.</summary>
    Tokens = 1,
    /// <summary>One per request.</summary>
    Requests = 2,
}

/// <summary>How a policy treats the request that would cross its quota.</summary>
public enum BoundaryMode : byte
{
    /// <summary>Admit while used + reserved &lt; quota; the boundary request may overshoot.</summary>
    Graceful = 0,
    /// <summary>Admit only if used + reserved + estimate ≤ quota.</summary>
    Strict = 1,
}

/// <summary>What happens to the key when a policy's window is exhausted.</summary>
public enum ExhaustedAction : byte
{
    RejectOnly = 0,
    DisableToken = 1,
}

/// <summary>The operator-visible status of a key (the HTTP API's `status`, docs/api.md).</summary>
public enum TokenStatus : byte
{
    None = 0,
    Enabled = 1,
    Disabled = 2,
    Expired = 3,
    Exhausted = 4,
}
