namespace Quota.Engine.Model;

/// <summary>The engine-owned fields of a key (names, hashes and other labels live in the config store).</summary>
public sealed record TokenSpec
{
    public int UserId { get; init; }
    /// <summary>Lifetime budget. Ignored for admission when <see cref="UnlimitedQuota"/> is set, but still tracked.</summary>
    public long RemainQuotaUnits { get; init; }
    public bool UnlimitedQuota { get; init; }
    /// <summary>Expiry instant in UTC Unix ms, or -1 for never.</summary>
    public long ExpiresAtMs { get; init; } = -1;
    /// <summary>Operator status: Enabled or Disabled. A policy pause is tracked separately and never stored here.</summary>
    public TokenStatus Status { get; init; } = TokenStatus.Enabled;
    public IReadOnlyList<QuotaPolicySpec> Policies { get; init; } = [];
}
