using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// Keeps one reservation from expiring while its request runs: every third of the reservation TTL (on the engine's
/// clock) it moves the expiry to now + TTL, so a stream longer than the TTL is settled at its actual and never
/// charged its estimate by expiry. Stops when disposed, or when the reservation is no longer open. A timer callback,
/// not a loop awaiting a cancellable tick: ending it costs no cancellation exception (which was a measurable share of
/// each short request's CPU, docs/perf/relay-profile.md).
/// </summary>
internal sealed class ReservationKeepAlive : IAsyncDisposable
{
    private readonly QuotaRuntime runtime;
    private readonly ReservationId reservation;
    private readonly ILogger logger;
    private readonly ITimer timer;
    private int stopped;

    private ReservationKeepAlive(QuotaRuntime runtime, ReservationId reservation, ILogger logger)
    {
        this.runtime = runtime;
        this.reservation = reservation;
        this.logger = logger;
        TimeSpan period = runtime.Engine.Options.ReservationTtl / 3;
        period = period < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : period;
        timer = runtime.Time.CreateTimer(static state => ((ReservationKeepAlive)state!).Tick(), this, period, period);
    }

    public static ReservationKeepAlive Start(QuotaRuntime runtime, ReservationId reservation, ILogger logger) => new(runtime, reservation, logger);

    private void Tick()
    {
        if (Volatile.Read(ref stopped) == 1)
        {
            return;
        }

        KeepAliveResult result = runtime.Engine.KeepAlive(reservation, runtime.NowMs);
        if (result is KeepAliveResult.NotFound or KeepAliveResult.AlreadyFinished)
        {
            Volatile.Write(ref stopped, 1);
            timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        if (result != KeepAliveResult.Ok)
        {
            HostLog.KeepAliveFailed(logger, reservation.ToString(), result.ToString()); // retried next period
        }
    }

    public ValueTask DisposeAsync()
    {
        Volatile.Write(ref stopped, 1);
        return timer.DisposeAsync();
    }
}
