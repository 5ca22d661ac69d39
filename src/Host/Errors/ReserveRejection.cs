using Quota.Engine.Model;

namespace Quota.Host.Errors;

/// <summary>The one table from a refused reserve to HTTP: every <see cref="ReserveResult"/> value has a row.</summary>
public static class ReserveRejection
{
    public static (int Status, string Code) Of(ReserveResult result) => result switch
    {
        ReserveResult.InvalidAmount => (400, "invalid_request"),
        ReserveResult.KeyNotFound or ReserveResult.KeyDisabled or ReserveResult.KeyExpired => (401, "invalid_api_key"),
        ReserveResult.KeyPaused or ReserveResult.PolicyExhausted or ReserveResult.PolicyEstimateTooLarge => (429, "token_quota_policy_exhausted"),
        ReserveResult.InsufficientUserQuota => (403, "insufficient_user_quota"),
        ReserveResult.InsufficientKeyQuota => (403, "pre_consume_token_quota_failed"),
        ReserveResult.TooManyOpenReservations or ReserveResult.LogFull or ReserveResult.LeaseShort => (503, "service_unavailable"),
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, "Ok is not a rejection"),
    };

    public static string DefaultMessage(ReserveResult result) => result switch
    {
        ReserveResult.InvalidAmount => $"amount must be a whole number of units from 1 to {Engine.EngineLimits.AmountMaxUnits}",
        ReserveResult.KeyNotFound => "invalid API key",
        ReserveResult.KeyDisabled => "API key is disabled",
        ReserveResult.KeyExpired => "API key has expired",
        ReserveResult.InsufficientUserQuota => "user quota is not enough",
        ReserveResult.InsufficientKeyQuota => "API key quota is not enough",
        ReserveResult.TooManyOpenReservations => "too many requests in flight; retry shortly",
        ReserveResult.LogFull => "the quota log cannot accept changes right now; retry shortly",
        ReserveResult.LeaseShort => "this node's share of the quota is being renewed; retry shortly",
        ReserveResult.KeyPaused or ReserveResult.PolicyExhausted => "API key periodic quota is exhausted",
        ReserveResult.PolicyEstimateTooLarge => "this request needs more than the API key's periodic quota has left in this period",
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, "Ok is not a rejection"),
    };
}
