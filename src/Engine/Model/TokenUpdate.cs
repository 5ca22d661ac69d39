namespace Quota.Engine.Model;

/// <summary>
/// A partial update of a key: null fields are kept. <see cref="Policies"/> non-null replaces the key's
/// policies position by position (an entry with Enabled = false disables that position).
/// </summary>
public sealed record TokenUpdate
{
    /// <summary>Enabled or Disabled by the operator (a policy's pause is separate and kept).</summary>
    public TokenStatus? Status { get; init; }
    /// <summary>Sets the lifetime budget to exactly this (not an addition), whatever is in flight.</summary>
    public long? RemainQuotaUnits { get; init; }
    /// <summary>Whether the lifetime budget is enforced.</summary>
    public bool? UnlimitedQuota { get; init; }
    /// <summary>Expiry instant in UTC Unix ms, or -1 for never.</summary>
    public long? ExpiresAtMs { get; init; }
    /// <summary>The key's policies by position; a position left out of a shorter list is removed.</summary>
    public IReadOnlyList<QuotaPolicySpec>? Policies { get; init; }
}
