using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

// Reading reservations and keeping them alive: what a caller needs besides the four verbs — a running stream
// extends its reservation so that expiry never settles a live request at its estimate, and a caller with request ids
// finds its reservations again (also after a restart: the request key rides in the Reserve record).
public sealed partial class QuotaEngine
{
    /// <summary>Moves an open reservation's expiry to <paramref name="nowMs"/> + the TTL (logged, so it survives a restart).</summary>
    public KeepAliveResult KeepAlive(ReservationId id, long nowMs)
    {
        if (!deltas.TryPromise(1))
        {
            return KeepAliveResult.LogFull;
        }

        try
        {
            // Owning the record (Open → Finishing) for a moment keeps expiry and finishers out while it changes.
            ReservationState state = reservations.TryBeginFinish(id, out int slot);
            if (state != ReservationState.Finishing)
            {
                return state == ReservationState.Free ? KeepAliveResult.NotFound : KeepAliveResult.AlreadyFinished;
            }

            ref ReservationRecord record = ref reservations[slot];
            long expiresAtMs = nowMs + reservationTtlMs;
            deltas.Append(DeltaRecord.KeepAlive(id, record.TokenId, record.UserId, expiresAtMs));
            Volatile.Write(ref record.ExpiresAtMs, expiresAtMs);
            reservations.Reopen(slot);
            return KeepAliveResult.Ok;
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>
    /// Reads a reservation; false when the id is unknown or its record was recycled — never because it changed while
    /// read: a read that a concurrent transition (a finish, a keep-alive) overlapped is taken again, so a caller that
    /// looks a reservation up by id (request-id retries) never mistakes one being settled for one that is gone.
    /// </summary>
    public bool TryReadReservation(ReservationId id, out ReservationView view)
    {
        int slot = reservations.SlotOf(id);
        // Bounded like every CAS loop: a held id only moves Open → Finishing → Open or to a final state, each a few
        // hundred ns, so this many overlapped reads in a row would be a livelock, not contention.
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long word = reservations.StateWordOf(slot);
            if (!reservations.Holds(slot, id, word) || !TryStatus(ReservationTable.StateOf(word), out ReservationStatus status))
            {
                view = default;
                return false;
            }

            ref ReservationRecord record = ref reservations[slot];
            view = new ReservationView(id, record.TokenId, record.AmountUnits, record.RequestKey, status, record.ChargedUnits, record.ExpiresAtMs);
            RaceHooks.Reached(RaceHooks.Point.ReservationRead);
            if (reservations.StateWordOf(slot) == word)
            {
                return true; // unchanged while read: the fields belong to this id and state
            }
        }

        view = default;
        return false;
    }

    /// <summary>Every reservation still in the table that carries a request key (cold: start-up, to rebuild a caller's index).</summary>
    public IEnumerable<ReservationView> ReservationsWithRequestKeys()
    {
        for (int slot = 0; slot < reservations.Capacity; slot++)
        {
            long word = reservations.StateWordOf(slot);
            if (reservations[slot].RequestKey != 0 &&
                ReservationTable.StateOf(word) != ReservationState.Free &&
                TryReadReservation(reservations.IdOf(slot, word), out ReservationView view))
            {
                yield return view;
            }
        }
    }

    private static bool TryStatus(ReservationState state, out ReservationStatus status)
    {
        status = state switch
        {
            ReservationState.Settled => ReservationStatus.Settled,
            ReservationState.Refunded => ReservationStatus.Refunded,
            ReservationState.Expired => ReservationStatus.Expired,
            _ => ReservationStatus.Open,
        };
        return state is not (ReservationState.Free or ReservationState.Claimed);
    }
}
