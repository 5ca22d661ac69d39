namespace Quota.Engine.Reservations;

/// <summary>Life cycle of one reservation record. Values are persisted; never renumber.</summary>
internal enum ReservationState : byte
{
    /// <summary>Never used.</summary>
    Free = 0,
    /// <summary>Claimed by a reserve that is still checking accounts; not visible to settle/refund/expiry.</summary>
    Claimed = 1,
    /// <summary>Holding its amount on every account.</summary>
    Open = 2,
    /// <summary>A settle, refund or expiry won the record and is applying it.</summary>
    Finishing = 3,
    Settled = 4,
    Refunded = 5,
    Expired = 6,
}
