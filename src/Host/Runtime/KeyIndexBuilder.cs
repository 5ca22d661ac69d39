namespace Quota.Host.Runtime;

/// <summary>
/// Builds the key index (<see cref="KeyIndex"/>) in the background once the host has started, so the host serves as soon
/// as the engine's recovery ends; a listing asked for meanwhile waits for it. Stopping cancels a build still running.
/// </summary>
public sealed class KeyIndexBuilder(QuotaRuntime runtime, ILogger<KeyIndexBuilder> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private Task? build;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        build = BuildAsync();
        return Task.CompletedTask;
    }

    private async Task BuildAsync()
    {
        try
        {
            await runtime.IndexKeysAsync(stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // stopping: the next start builds it again
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            HostLog.KeyIndexFailed(logger, exception);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        if (build is not null)
        {
            await build.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => stopping.Dispose();
}
