using Microsoft.Extensions.Options;
using Quota.Host.Configuration;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>
/// Deletes log rows older than <c>Logs:RetentionDays</c> (off at 0, the default), in the background: a batch at a time
/// in its own short transaction, with a pause between batches, so that neither the log's writer nor a page waits long
/// behind it however many rows are due (docs/operations.md "Log retention").
/// </summary>
public sealed partial class LogRetention(QuotaRuntime runtime, IOptions<LogsOptions> options, TimeProvider time, ILogger<LogRetention> logger) : BackgroundService
{
    /// <summary>Rows deleted in one transaction.</summary>
    public const int BatchRows = 5_000;
    private static readonly TimeSpan BatchPause = TimeSpan.FromMilliseconds(50);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.RetentionDays == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.PruneIntervalMinutes), time);
        do
        {
            int pruned = await PruneAsync(stoppingToken).ConfigureAwait(false);
            if (pruned > 0)
            {
                Pruned(logger, pruned, options.Value.RetentionDays);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Deletes every row older than the retention, batch by batch; returns how many.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        long beforeMs = time.GetUtcNow().AddDays(-options.Value.RetentionDays).ToUnixTimeMilliseconds();
        int total = 0, batch;
        do
        {
            batch = runtime.Store.PruneLogs(beforeMs, BatchRows);
            total += batch;
            if (batch == BatchRows)
            {
                await Task.Delay(BatchPause, time, cancellationToken).ConfigureAwait(false);
            }
        }
        while (batch == BatchRows);
        return total;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Rows} log rows older than {Days} days (Logs:RetentionDays)")]
    private static partial void Pruned(ILogger logger, int rows, int days);
}
