namespace Quota.Engine.Accounts;

/// <summary>
/// Bit layout of a policy window's counter words: the window generation (16 bits) and a signed value
/// (48 bits) in one 64-bit word, so that "this window, and how much is left in it" changes in one CAS.
/// A counter update tagged with an old generation can therefore never land in a newer window, whatever
/// the interleaving. 48 bits hold ±1.4·10^14 units; quotas are capped at 2^46 (EngineLimits) and updates
/// saturate at the ends, so the value never wraps. The generation wraps after 65,536 windows; a stale
/// reservation would have to outlive that many windows (≥ 455 days at the 10-minute minimum) to alias,
/// and reservations expire after at most a day.
/// </summary>
internal static class WindowWord
{
    public const int GenerationBits = 16;
    public const int ValueBits = 64 - GenerationBits;
    public const long ValueMax = (1L << (ValueBits - 1)) - 1;
    public const long ValueMin = -(1L << (ValueBits - 1));
    private const long ValueMask = (1L << ValueBits) - 1;

    public static long Pack(ushort generation, long value) => ((long)generation << ValueBits) | (value & ValueMask);

    public static ushort Generation(long word) => (ushort)((ulong)word >> ValueBits);

    /// <summary>Sign-extends the low 48 bits.</summary>
    public static long Value(long word) => (word << GenerationBits) >> GenerationBits;

    public static long Saturate(long value) => Math.Clamp(value, ValueMin, ValueMax);
}
