namespace Quota.Engine.Model;

/// <summary>
/// Names one reservation forever (docs/design.md "Reservation ids"): the run's epoch (high 16 bits) and the claim
/// position (low 48 bits; its slot in the reservation table is position mod capacity). Positions only grow within a
/// run and every start takes a new epoch, durably, before it issues an id — so an id is never issued twice, also
/// not after a crash that lost the records of ids issued just before it. Never 0.
/// </summary>
public readonly record struct ReservationId(long Value)
{
    /// <summary>No reservation (value 0): the id of a refused reserve.</summary>
    public static readonly ReservationId None;

    internal const int PositionBits = 48;
    internal const long PositionMask = (1L << PositionBits) - 1;
    /// <summary>Epochs run 1 … 65535 and then start over at 1: an id repeats only after 65,535 restarts.</summary>
    internal const int EpochMax = ushort.MaxValue;

    internal long Position => Value & PositionMask;
    internal int Epoch => (int)((ulong)Value >> PositionBits);

    internal static ReservationId From(int epoch, long position) => new(((long)epoch << PositionBits) | (position & PositionMask));

    /// <summary>The id as 16 lowercase hex digits, the form <see cref="TryParse"/> reads and an API should show.</summary>
    public override string ToString() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads the 16-hex-digit form of <see cref="ToString"/>; false (and <see cref="None"/>) for anything else, or 0.</summary>
    public static bool TryParse(string? text, out ReservationId id)
    {
        id = None;
        if (text is null || text.Length != 16 ||
            !long.TryParse(text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out long value) ||
            value == 0)
        {
            return false;
        }

        id = new ReservationId(value);
        return true;
    }
}
