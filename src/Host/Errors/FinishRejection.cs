using Quota.Engine.Model;

namespace Quota.Host.Errors;

/// <summary>The one table from a refused settle or refund to HTTP: every <see cref="FinishResult"/> value has a row.</summary>
public static class FinishRejection
{
    public static (int Status, string Code, string Message) Of(FinishResult result) => result switch
    {
        FinishResult.InvalidAmount => (400, "invalid_request", $"amount must be a whole number of units from 0 to {Engine.EngineLimits.AmountMaxUnits}"),
        FinishResult.NotFound => (404, "reservation_not_found", "no such reservation (unknown, or finished long ago)"),
        FinishResult.AlreadySettled => (409, "reservation_already_finished", "the reservation was already settled"),
        FinishResult.AlreadyRefunded => (409, "reservation_already_finished", "the reservation was already refunded"),
        FinishResult.AlreadyExpired => (409, "reservation_already_finished", "the reservation already expired (and was settled at its estimate)"),
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, "Ok is not a rejection"),
    };
}
