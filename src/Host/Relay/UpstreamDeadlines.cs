using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>Why the relay stopped reading an upstream before its end.</summary>
internal enum UpstreamStop
{
    None,
    /// <summary><c>Relay:Upstream:TimeoutSeconds</c> passed since the call started.</summary>
    WholeTimeout,
    /// <summary><c>Relay:Upstream:IdleTimeoutSeconds</c> passed without a byte of a stream.</summary>
    IdleTimeout,
    /// <summary>The client left and <c>Relay:Upstream:UsageGraceSeconds</c> passed without the upstream finishing.</summary>
    ClientGone,
}

/// <summary>
/// The clocks of one upstream call, as one cancellation token: the whole-call timeout, the idle timeout (re-armed by
/// <see cref="Touch"/> before each stream read), and — once the client has left — a short grace to collect the
/// upstream's usage. The client leaving never cancels the upstream read by itself: the work the upstream does is
/// charged, so the relay keeps reading for its usage. Real time (network timeouts), not the engine clock.
/// </summary>
internal sealed class UpstreamDeadlines : IDisposable
{
    private readonly CancellationTokenSource whole, idle, linked;
    private readonly CancellationTokenRegistration clientRegistration;
    private readonly TimeSpan idleTimeout, grace;
    private readonly long wholeDeadlineMs;
    private int clientGone;

    public UpstreamDeadlines(UpstreamOptions options, CancellationToken clientAborted)
    {
        idleTimeout = TimeSpan.FromSeconds(options.IdleTimeoutSeconds);
        grace = TimeSpan.FromSeconds(options.UsageGraceSeconds);
        wholeDeadlineMs = Environment.TickCount64 + (options.TimeoutSeconds * 1000L);
        whole = new CancellationTokenSource(TimeSpan.FromSeconds(options.TimeoutSeconds));
        idle = new CancellationTokenSource();
        linked = CancellationTokenSource.CreateLinkedTokenSource(whole.Token, idle.Token);
        clientRegistration = clientAborted.Register(static state => ((UpstreamDeadlines)state!).ClientLeft(), this);
    }

    /// <summary>Cancelled when any clock runs out.</summary>
    public CancellationToken Token => linked.Token;

    public bool ClientIsGone => Volatile.Read(ref clientGone) == 1;

    /// <summary>Which clock ran out (None while none has).</summary>
    public UpstreamStop Stop =>
        idle.IsCancellationRequested ? UpstreamStop.IdleTimeout
        : !whole.IsCancellationRequested ? UpstreamStop.None
        : ClientIsGone && Environment.TickCount64 < wholeDeadlineMs ? UpstreamStop.ClientGone
        : UpstreamStop.WholeTimeout;

    /// <summary>Re-arms the idle clock: call before each read of a stream.</summary>
    public void Touch() => idle.CancelAfter(idleTimeout);

    /// <summary>The client left (its connection aborted, or a write to it failed): start the usage grace.</summary>
    public void ClientLeft()
    {
        if (Interlocked.Exchange(ref clientGone, 1) == 1)
        {
            return;
        }

        long remainingMs = wholeDeadlineMs - Environment.TickCount64;
        if (grace.TotalMilliseconds < remainingMs)
        {
            try
            {
                whole.CancelAfter(grace);
            }
            catch (ObjectDisposedException)
            {
                // the call already ended
            }
        }
    }

    public void Dispose()
    {
        clientRegistration.Dispose();
        linked.Dispose();
        idle.Dispose();
        whole.Dispose();
    }
}
