namespace Quota.Engine.Model;

/// <summary>A point-in-time copy of a user's wallet.</summary>
public sealed record UserView(int UserId, long QuotaUnits, long UsedQuotaUnits, long ReservedQuotaUnits);

/// <summary>A point-in-time copy of a key (cold path: allocates).</summary>
public sealed record TokenView(
    int TokenId,
    int UserId,
    TokenStatus OperatorStatus,
    bool Paused,
    bool Expired,
    long RemainQuotaUnits,
    bool UnlimitedQuota,
    long UsedQuotaUnits,
    long ReservedQuotaUnits,
    long ExpiresAtMs,
    IReadOnlyList<PolicyView> Policies)
{
    /// <summary>The HTTP API's `status` (docs/api.md): 1 enabled, 2 disabled (by the operator or paused by a policy), 3 expired, 4 exhausted.</summary>
    public TokenStatus Status =>
        OperatorStatus == TokenStatus.Disabled || Paused ? TokenStatus.Disabled
        : Expired ? TokenStatus.Expired
        : !UnlimitedQuota && RemainQuotaUnits <= 0 ? TokenStatus.Exhausted
        : TokenStatus.Enabled;
}

/// <summary>A point-in-time copy of one policy position and its current window.</summary>
public sealed record PolicyView(
    int Index,
    QuotaPolicySpec Spec,
    long UsedQuotaUnits,
    long ReservedQuotaUnits,
    long PeriodStartMs,
    long PeriodEndMs,
    long ExhaustedAtMs,
    TokenStatus ExhaustedTokenStatus,
    bool PausesKey,
    bool Recovering)
{
    public long RemainingUnits => Math.Max(0, Spec.QuotaUnits - UsedQuotaUnits - ReservedQuotaUnits);
}
