namespace Quota.Engine.Accounts;

/// <summary>
/// A policy position's window counters, from the save that started them to the next save that restarts the position.
/// A save that restarts a window (another metric, a window that elapsed before the save, a policy taken out of or put
/// back into service) puts a new one in place, published with the key's configuration (<see cref="KeyConfig"/>): a
/// reserve holds in the windows of the configuration it read and in no other, so what it holds is always in that
/// window's metric and judged by that configuration's rules. A rollover restarts the window in place (a new
/// generation under the same configuration). Generations go on from one object to the next, so a reservation's
/// recorded generation still names exactly one window.
/// </summary>
internal sealed class PolicyWindow
{
    public WindowCell Cell;

    /// <summary>A window that starts at <paramref name="generation"/>, empty (leased: with no lease), not yet published.</summary>
    public static PolicyWindow Start(ushort generation, long quotaUnits, long startMs, long endMs, bool leased)
    {
        var window = new PolicyWindow();
        window.Cell.Reset(generation, quotaUnits, startMs, endMs, leased);
        return window;
    }
}
