namespace Quota.Engine.Diagnostics;

/// <summary>
/// Named points inside cold transitions where a test can run code on the same thread, to widen a race window that
/// is too narrow to hit by chance. Per thread, so parallel tests never see each other's hooks; null in production,
/// where a call is one thread-static read. Never called on the request path's common case (only where a window
/// is restarted, a save is planned, a finish exhausts a window, a wallet is topped up, or a reservation is read by id).
/// </summary>
internal static class RaceHooks
{
    internal enum Point
    {
        /// <summary>A window restart has published its new generation.</summary>
        WindowStartPublished,
        /// <summary>A save has computed its plan and is about to log and apply it.</summary>
        SavePlanned,
        /// <summary>A finish charged a window to exhaustion and is about to take the key's lock to mark it.</summary>
        SettleChargedUnmarked,
        /// <summary>A wallet change has been made and is about to be logged.</summary>
        WalletChanged,
        /// <summary>A reservation's fields have been read and its state word is about to be read again (<c>TryReadReservation</c>).</summary>
        ReservationRead,
    }

    [ThreadStatic]
    private static Action<Point>? hook;

    public static void Set(Action<Point>? action) => hook = action;

    public static void Reached(Point point) => hook?.Invoke(point);
}
