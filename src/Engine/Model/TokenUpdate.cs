namespace Quota.Engine.Model;

/// <summary>
/// A partial update of a key: null fields are kept. <see cref="Policies"/> non-null replaces the key's
/// policies position by position (an entry with Enabled = false disables that position).
/// </summary>
public sealed record TokenUpdate
{
    public TokenStatus? Status { get; init; }
    public long? RemainQuotaUnits { get; init; }
    public bool? UnlimitedQuota { get; init; }
    public long? ExpiresAtMs { get; init; }
    public IReadOnlyList<QuotaPolicySpec>? Policies { get; init; }
}
