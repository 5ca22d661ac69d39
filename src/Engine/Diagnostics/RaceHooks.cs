namespace Quota.Engine.Diagnostics;

/// <summary>
/// Named points inside transitions where a test can run code on the same thread, to widen a race window that is too
/// narrow to hit by chance. Per thread, so parallel tests never see each other's hooks.
/// <para>Cold points (<see cref="Reached"/>) cost one thread-static read when no hook is set; they are never on the
/// request path's common case (only where a window is restarted, a save is planned or published, a finish exhausts a
/// window, a wallet is topped up, or a reservation is read by id). Request-path points (<see cref="ReachedOnRequestPath"/>) are armed only when the runtime switch
/// <c>Quota.Engine.RaceHooksOnRequestPath</c> is on (the engine's tests set it): elsewhere the check is a static
/// readonly false, which the JIT folds away, so the hot path pays nothing.</para>
/// </summary>
internal static class RaceHooks
{
    internal enum Point
    {
        /// <summary>A window restart has published its new generation.</summary>
        WindowStartPublished,
        /// <summary>A save has computed its plan and is about to log and apply it.</summary>
        SavePlanned,
        /// <summary>A save has applied what takes room away and is about to publish the key's new configuration.</summary>
        SavePublishing,
        /// <summary>A save has published the key's new configuration and is about to apply what gives room.</summary>
        SavePublished,
        /// <summary>A finish charged a window to exhaustion and is about to take the key's lock to mark it.</summary>
        SettleChargedUnmarked,
        /// <summary>A wallet change has been made and is about to be logged.</summary>
        WalletChanged,
        /// <summary>A reserve has read the key's configuration and is about to hold its accounts (request path).</summary>
        ReserveConfigurationRead,
        /// <summary>A reserve has held its accounts, or been refused, and is about to check that the configuration it read still stands (request path).</summary>
        ReserveDecided,
        /// <summary>A reservation's fields have been read and its state word is about to be read again (<c>TryReadReservation</c>).</summary>
        ReservationRead,
    }

    private static readonly bool OnRequestPath =
        AppContext.TryGetSwitch("Quota.Engine.RaceHooksOnRequestPath", out bool armed) && armed;

    [ThreadStatic]
    private static Action<Point>? hook;

    public static void Set(Action<Point>? action) => hook = action;

    public static void Reached(Point point) => hook?.Invoke(point);

    public static void ReachedOnRequestPath(Point point)
    {
        if (OnRequestPath)
        {
            hook?.Invoke(point);
        }
    }
}
