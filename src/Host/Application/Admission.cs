using Quota.Engine.Model;

namespace Quota.Host.Application;

/// <summary>A reserve's answer after <see cref="Admission.ConfirmAsync"/>: the outcome, or unavailable (503: the cluster's store is out of reach).</summary>
internal readonly record struct Admitted(ReserveOutcome Outcome, bool Unavailable);

/// <summary>
/// What the relay and the quota API do around the engine's reserve and finish, the same in either mode: on one host the
/// engine's answer is final; a cluster node also holds an admitted reservation on the cluster's leases and tells them of
/// every finish (docs/cluster.md). Allocation-free on one host (a completed <see cref="ValueTask{TResult}"/>).
/// </summary>
internal sealed class Admission(IAccounts accounts)
{
    /// <summary>
    /// After the engine's reserve: an admitted reservation is held on the cluster's leases too (refunded in the engine when
    /// they refuse it; unavailable when the store is out of reach and no lease covers it). A refusal stays as it is.
    /// </summary>
    public ValueTask<Admitted> ConfirmAsync(int tokenId, ReserveRequest request, ReserveOutcome reserved) =>
        reserved.IsOk ? accounts.HoldAsync(tokenId, request, reserved) : new(new Admitted(reserved, Unavailable: false));

    /// <summary>After the engine settled (<paramref name="refunded"/> false) or refunded a reservation.</summary>
    public void Finished(ReservationId id, long chargedUnits, long tokens, bool refunded) => accounts.Finished(id, chargedUnits, tokens, refunded);
}
