namespace Quota.Engine;

/// <summary>
/// Tunable settings of the engine; validated and copied by the engine's constructor, so changing an instance later has no
/// effect on an engine built from it. The tables are allocated up front at these sizes (memory grows with
/// <see cref="KeysMax"/>, <see cref="UsersMax"/> and <see cref="ReservationsMax"/>, not with traffic).
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Capacity of the key table (token ids are 1..KeysMax).</summary>
    public int KeysMax { get; init; } = 1 << 20;
    /// <summary>Capacity of the user table (user ids are 1..UsersMax).</summary>
    public int UsersMax { get; init; } = 1 << 20;
    /// <summary>Reservation records; a power of two. Also the idempotency horizon of settle/refund replies.</summary>
    public int ReservationsMax { get; init; } = 1 << 18;
    /// <summary>An unfinished reservation is settled at its estimate after this long.</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Budget alert thresholds, in percent of a policy's quota (and of a wallet's balance at its last top-up), ascending,
    /// each 1 … 100, at most <see cref="EngineLimits.AlertThresholdsMax"/>; empty (the default): no alerts (docs/alerts.md).
    /// </summary>
    public IReadOnlyList<int> AlertThresholdsPercent { get; init; } = [];

    /// <summary>
    /// Policy windows admit against this node's lease from a lease authority (cluster mode) instead of their local quota
    /// (docs/design.md "Leases"). Off by default. Each window keeps the mode it started in (the log records it), so
    /// turning it on for an existing data directory takes effect per window, at its next rollover or restart; a data
    /// directory that holds leased windows refuses to open without it.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
    public bool LeasedWindows { get; init; }

    /// <summary>
    /// Leased: how many requests' worth a short lease asks for beyond what the request needs, 0 … 1,000 (default 4): a
    /// larger ask saves authority round trips and lets other nodes' requests find less headroom while it lasts.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
    public int LeaseAheadRequests { get; init; } = 4;

    internal long ReservationTtlMs => (long)ReservationTtl.TotalMilliseconds;

    /// <summary>Throws on a setting outside its bounds, naming it.</summary>
    public EngineOptions Validated()
    {
        if (KeysMax is < 1 or > (1 << 28))
        {
            throw new ArgumentOutOfRangeException(nameof(KeysMax), KeysMax, "must be 1 … 2^28");
        }

        if (UsersMax is < 1 or > (1 << 28))
        {
            throw new ArgumentOutOfRangeException(nameof(UsersMax), UsersMax, "must be 1 … 2^28");
        }

        if (ReservationsMax < 64 || ReservationsMax > (1 << 26) || (ReservationsMax & (ReservationsMax - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReservationsMax), ReservationsMax, "must be a power of two, 64 … 2^26");
        }

        if (ReservationTtl < TimeSpan.FromSeconds(1) || ReservationTtl > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(ReservationTtl), ReservationTtl, "must be 1 s … 1 day");
        }

        if (AlertThresholdsPercent.Count > EngineLimits.AlertThresholdsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(AlertThresholdsPercent), AlertThresholdsPercent.Count, $"must hold at most {EngineLimits.AlertThresholdsMax} thresholds");
        }

        for (int i = 0; i < AlertThresholdsPercent.Count; i++)
        {
            if (AlertThresholdsPercent[i] is < 1 or > 100 || (i > 0 && AlertThresholdsPercent[i] <= AlertThresholdsPercent[i - 1]))
            {
                throw new ArgumentOutOfRangeException(nameof(AlertThresholdsPercent), AlertThresholdsPercent[i], "must be ascending percentages, each 1 … 100");
            }
        }

        if (LeaseAheadRequests is < 0 or > 1_000)
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseAheadRequests), LeaseAheadRequests, "must be 0 … 1000");
        }

        return this with { AlertThresholdsPercent = [.. AlertThresholdsPercent] };
    }

    /// <summary>The settings on one line, for the start-up log.</summary>
    public override string ToString() =>
        $"KeysMax={KeysMax} UsersMax={UsersMax} ReservationsMax={ReservationsMax} ReservationTtl={ReservationTtl} AlertThresholdsPercent=[{string.Join(",", AlertThresholdsPercent)}] LeasedWindows={LeasedWindows} LeaseAheadRequests={LeaseAheadRequests}";
}
