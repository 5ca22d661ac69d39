namespace Quota.Engine.Model;

/// <summary>
/// The engine-owned fields of a new key, the input of <see cref="QuotaEngine.CreateToken(TokenSpec, long)"/>. Names, secrets and other
/// labels are the embedder's to keep; the engine knows a key only by its id.
/// </summary>
public sealed record TokenSpec
{
    /// <summary>The user whose wallet every request of the key also draws on; must exist.</summary>
    public int UserId { get; init; }
    /// <summary>Lifetime budget. Ignored for admission when <see cref="UnlimitedQuota"/> is set, but still tracked.</summary>
    public long RemainQuotaUnits { get; init; }
    /// <summary>True: the lifetime budget is not enforced (the wallet and the policies still are).</summary>
    public bool UnlimitedQuota { get; init; }
    /// <summary>Expiry instant in UTC Unix ms, or -1 for never.</summary>
    public long ExpiresAtMs { get; init; } = -1;
    /// <summary>Operator status: Enabled or Disabled. A policy pause is tracked separately and never stored here.</summary>
    public TokenStatus Status { get; init; } = TokenStatus.Enabled;
    /// <summary>Up to <see cref="EngineLimits.PoliciesPerKeyMax"/> periodic policies; position i is policy index i.</summary>
    public IReadOnlyList<QuotaPolicySpec> Policies { get; init; } = [];
}
