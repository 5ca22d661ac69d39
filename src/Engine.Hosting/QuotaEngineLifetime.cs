using Microsoft.Extensions.Hosting;

namespace Quota.Engine.Hosting;

/// <summary>
/// Opens (recovers) the engine when the host starts — a data directory that cannot be opened stops the start — and
/// closes it when the host stops: the loops stop and the log is committed (and checkpointed when long). Registered by
/// <c>AddQuotaEngine</c>; hosted services registered after it stop before it, so they may still use the engine.
/// </summary>
internal sealed class QuotaEngineLifetime(QuotaEngineHost host) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = host.Persistent;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await host.DisposeAsync().ConfigureAwait(false);
}
