namespace Quota.Engine.Model;

// Values are part of the delta-log and API contracts: never renumber, only append.

/// <summary>How a policy's windows are laid out in time.</summary>
public enum PeriodMode : byte
{
    /// <summary>Fixed 5-hour windows from the anchor (time zone irrelevant).</summary>
    Preset5h = 1,
    /// <summary>Calendar days in the policy's time zone, starting at the anchor's local time of day (23 or 25 h across a DST change).</summary>
    Daily = 2,
    /// <summary>Calendar weeks in the policy's time zone, starting on the anchor's weekday and local time.</summary>
    Weekly = 3,
    /// <summary>Calendar months from the anchor's day of month (clamped to a shorter month's last day) and local time.</summary>
    Monthly = 4,
    /// <summary>Fixed windows of <see cref="QuotaPolicySpec.CustomMinutes"/> minutes from the anchor.</summary>
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

/// <summary>Whether a policy refuses what it does not admit, or only counts it (docs/design.md "Shadow policies").</summary>
public enum PolicyEnforcement : byte
{
    /// <summary>Refuses a request its window does not admit.</summary>
    Enforce = 0,
    /// <summary>
    /// Never refuses and never pauses the key: a request its window would not admit is admitted, counted as a shadow
    /// refusal and not held in the window, so the window's usage is what it would be if the policy enforced.
    /// </summary>
    Shadow = 1,
}

/// <summary>What happens to the key when a policy's window is exhausted.</summary>
public enum ExhaustedAction : byte
{
    /// <summary>Refuse requests this policy applies to until the window rolls over; the key stays enabled.</summary>
    RejectOnly = 0,
    /// <summary>
    /// Pause the whole key (every request is refused with <see cref="ReserveResult.KeyPaused"/>) until the window rolls
    /// over (with <see cref="QuotaPolicySpec.AutoResume"/>) or the policy is reset.
    /// </summary>
    DisableToken = 1,
}

/// <summary>The operator-visible status of a key (the HTTP API's `status`, docs/api.md).</summary>
public enum TokenStatus : byte
{
    /// <summary>No status (a field that does not apply, e.g. no pause recorded).</summary>
    None = 0,
    /// <summary>Serving requests.</summary>
    Enabled = 1,
    /// <summary>Disabled by the operator, or (in <see cref="TokenView.Status"/>) paused by a policy.</summary>
    Disabled = 2,
    /// <summary>Past its <see cref="TokenSpec.ExpiresAtMs"/> (derived, never set).</summary>
    Expired = 3,
    /// <summary>Its lifetime budget is used up (derived, never set).</summary>
    Exhausted = 4,
}
