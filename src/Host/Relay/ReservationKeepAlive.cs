using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// Keeps one reservation from expiring while its request runs: every third of the reservation TTL (on the engine's
/// clock) it moves the expiry to now + TTL, so a stream longer than the TTL is settled at its actual and never
/// charged its estimate by expiry. Stops when disposed, or when the reservation is no longer open.
/// </summary>
internal sealed class ReservationKeepAlive : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    private ReservationKeepAlive(QuotaRuntime runtime, ReservationId reservation, ILogger logger)
    {
        TimeSpan period = runtime.Engine.Options.ReservationTtl / 3;
        loop = RunAsync(runtime, reservation, logger, period < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : period, stop.Token);
    }

    public static ReservationKeepAlive Start(QuotaRuntime runtime, ReservationId reservation, ILogger logger) => new(runtime, reservation, logger);

    private static async Task RunAsync(QuotaRuntime runtime, ReservationId reservation, ILogger logger, TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, runtime.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                KeepAliveResult result = runtime.Engine.KeepAlive(reservation, runtime.NowMs);
                if (result is KeepAliveResult.NotFound or KeepAliveResult.AlreadyFinished)
                {
                    return;
                }

                if (result != KeepAliveResult.Ok)
                {
                    HostLog.KeepAliveFailed(logger, reservation.ToString(), result.ToString()); // retried next period
                }
            }
        }
        catch (OperationCanceledException)
        {
            // disposed: the request ended
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        stop.Dispose();
    }
}
