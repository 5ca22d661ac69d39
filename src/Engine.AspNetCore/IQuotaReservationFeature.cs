using Quota.Engine.Model;

namespace Quota.Engine.AspNetCore;

/// <summary>
/// The reservation behind the current request's lease, set on <c>HttpContext.Features</c> while the lease is held: an
/// endpoint calls <see cref="Settle"/> to charge what the request actually cost; otherwise the lease's release refunds it.
/// </summary>
public interface IQuotaReservationFeature
{
    /// <summary>The engine's reservation.</summary>
    ReservationId Id { get; }

    /// <summary>
    /// Charges <paramref name="actualUnits"/> (0 … <see cref="EngineLimits.AmountMaxUnits"/>; may exceed the estimate) and,
    /// for tokens policies, <paramref name="actualTokens"/> (-1: the estimate). Exactly once: a repeat returns the first outcome.
    /// </summary>
    FinishOutcome Settle(long actualUnits, long actualTokens = -1);
}
