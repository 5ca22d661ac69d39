namespace Quota.Engine.Model;

/// <summary>
/// Names one reservation: the slot in the reservation table (low 32 bits) and that slot's sequence number
/// (high 32 bits), so that an id of a recycled slot is recognised as unknown instead of touching another
/// request's reservation. Never 0.
/// </summary>
public readonly record struct ReservationId(long Value)
{
    public static readonly ReservationId None;

    internal int Slot => (int)(Value & 0xFFFF_FFFF);
    internal uint Sequence => (uint)((ulong)Value >> 32);

    internal static ReservationId From(int slot, uint sequence) => new(((long)sequence << 32) | (uint)slot);

    public override string ToString() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

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
