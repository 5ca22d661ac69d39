namespace Quota.Engine.Model;

/// <summary>A point-in-time copy of a user's wallet, in quota units.</summary>
/// <param name="UserId">The user.</param>
/// <param name="QuotaUnits">The balance: what is left to spend (settles subtract from it, top-ups add to it).</param>
/// <param name="UsedQuotaUnits">Everything settled on the wallet so far.</param>
/// <param name="ReservedQuotaUnits">What open reservations hold; admission needs balance − reserved ≥ the estimate.</param>
public sealed record UserView(int UserId, long QuotaUnits, long UsedQuotaUnits, long ReservedQuotaUnits);

/// <summary>A point-in-time copy of a key (cold path: allocates).</summary>
/// <param name="TokenId">The key.</param>
/// <param name="UserId">Its user (wallet).</param>
/// <param name="OperatorStatus">Enabled or Disabled as the operator set it, whatever a policy paused.</param>
/// <param name="Paused">A disable_token policy has paused the key.</param>
/// <param name="Expired">The expiry instant has passed (at the read's <c>nowMs</c>).</param>
/// <param name="RemainQuotaUnits">Lifetime budget left, in quota units.</param>
/// <param name="UnlimitedQuota">The budget is not enforced.</param>
/// <param name="UsedQuotaUnits">Everything settled on the key so far.</param>
/// <param name="ReservedQuotaUnits">What its open reservations hold.</param>
/// <param name="ExpiresAtMs">Expiry instant in UTC Unix ms, or -1 for never.</param>
/// <param name="Policies">Its policies that are in service (enabled or disabled), by position.</param>
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

/// <summary>A point-in-time copy of one policy position and its current window; amounts are in the policy's metric.</summary>
/// <param name="Index">Its position on the key (0 … 3).</param>
/// <param name="Spec">Its configuration.</param>
/// <param name="UsedQuotaUnits">Settled in the current window (0 while disabled).</param>
/// <param name="ReservedQuotaUnits">Held by open reservations in the current window (0 while disabled).</param>
/// <param name="PeriodStartMs">The current window's start, UTC Unix ms (0 while disabled).</param>
/// <param name="PeriodEndMs">The current window's end, exclusive: the next reset (0 while disabled).</param>
/// <param name="ExhaustedAtMs">When the current window was first used up, or 0.</param>
/// <param name="ExhaustedTokenStatus">The operator status the key had when this policy paused it (restored with it).</param>
/// <param name="PausesKey">This policy has paused the key.</param>
/// <param name="Recovering">Paused, and its window has ended, but the key is not restored yet (a rollover to come, or AutoResume off).</param>
/// <param name="ShadowRefusals">A shadow policy: the requests of the current window it would have refused (0 otherwise).</param>
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
    bool Recovering,
    long ShadowRefusals = 0)
{
    /// <summary>What the window still admits: quota − used − reserved, never below 0.</summary>
    public long RemainingUnits => Math.Max(0, Spec.QuotaUnits - UsedQuotaUnits - ReservedQuotaUnits);
}
