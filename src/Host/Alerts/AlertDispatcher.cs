using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using Quota.Engine.Diagnostics;
using Quota.Engine.Persistence;
using Quota.Host.Configuration;
using Quota.Host.Operations;
using Quota.Host.Runtime;

namespace Quota.Host.Alerts;

/// <summary>
/// Delivers budget alerts at least once: every <c>Alerts:PollMs</c> it moves the engine's new alerts into the durable
/// outbox (one message per configured webhook, inserted only if its id is new), then POSTs the due messages, signed.
/// A 2xx marks a message delivered; anything else (a redirect too: <see cref="WebhookTransport"/>, or no answer) schedules a retry with exponential backoff, until
/// <c>Alerts:AttemptsMax</c>. The outbox lives in the data directory's LiteDB file, so a restart loses none: on stop the
/// queue is moved into it, and the next start delivers what is pending (docs/alerts.md).
/// <para>
/// A round reads the outbox only when something may be due there: messages this process just added, a retry whose time
/// has come (kept in memory: only this class writes the outbox), or, at the first round, whatever a previous run left.
/// An idle dispatcher sleeps until a crossing is queued or a retry is due (docs/operations.md "At scale").
/// </para>
/// </summary>
public sealed partial class AlertDispatcher(
    AlertSink sink, QuotaRuntime runtime, IOptions<AlertsOptions> options, IHttpClientFactory clients, HostMetrics metrics, TimeProvider time,
    ILogger<AlertDispatcher> logger, RecoveryWatch recoveries) : BackgroundService
{
    public const string HttpClientName = "alerts";
    private const int BatchMax = 100;
    private static readonly TimeSpan KeepFinished = TimeSpan.FromDays(40); // longer than any window: a re-crossing after a manual reset is still known

    private readonly AlertsOptions settings = options.Value;
    private readonly List<OutboxDocument> unsaved = [];
    private readonly PriorityQueue<long, long> retriesAtMs = new(); // when messages that failed are tried again (the dispatcher's loop only)
    private bool outboxRead; // the first round has read the outbox (a previous run's messages)
    private int added; // 1: messages were added to the outbox since the last read (set on a checkpoint's thread too)
    private long lastPruneMs;
    private long outboxReads;

    private long rounds;

    /// <summary>Rounds run (tests: an idle dispatcher sleeps instead of running one every <c>Alerts:PollMs</c>).</summary>
    internal long Rounds => Interlocked.Read(ref rounds);

    /// <summary>Rounds that read the outbox (tests: an idle host reads it once).</summary>
    internal long OutboxReads => Interlocked.Read(ref outboxReads);

    /// <summary>Messages not yet delivered (tests and operators).</summary>
    public int Pending => runtime.Store.PendingInOutbox();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        sink.PersistWith(MoveAllToOutbox); // from now on a checkpoint moves the queue into the outbox first
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(settings.PollMs), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Interlocked.Increment(ref rounds);
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                await SleepWhileIdleAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            MoveAllToOutbox(); // what the engine emitted until now survives the restart
        }
    }

    /// <summary>One round: new alerts into the outbox, then the due deliveries. Store and network faults are logged, never fatal.</summary>
    private async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            CollectRecoveries(time.GetUtcNow().ToUnixTimeMilliseconds());
            MoveAllToOutbox(); // a burst goes in whole, batch after batch, at the outbox's pace
            bool mayBeDue = MayBeDue(time.GetUtcNow().ToUnixTimeMilliseconds());
            long now = time.GetUtcNow().ToUnixTimeMilliseconds(); // read after the flag is taken: whatever raised it is due by now
            if (mayBeDue)
            {
                await DeliverDueAsync(now, cancellationToken).ConfigureAwait(false);
            }

            if (now - lastPruneMs > (long)TimeSpan.FromHours(1).TotalMilliseconds)
            {
                lastPruneMs = now;
                runtime.Store.PruneOutbox(now - (long)KeepFinished.TotalMilliseconds);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The one boundary for store faults (the config store's file): logged, retried next round, never fatal.
            Interlocked.Exchange(ref added, 1); // the next round reads the outbox again
            LogOutboxFailed(logger, exception);
        }
    }

    /// <summary>Queues a <c>quota.recovered</c> event for every exhausted window that admits again (docs/alerts.md "Recovery").</summary>
    private void CollectRecoveries(long now)
    {
        if (recoveries.Count == 0)
        {
            return;
        }

        var recovered = new List<AlertMessage>();
        recoveries.Collect(now, tokenId => runtime.Engine.ReadToken(tokenId, now) is not null, recovered);
        foreach (AlertMessage message in recovered)
        {
            sink.Enqueue(message);
        }
    }

    /// <summary>
    /// With nothing queued, added or due, and no exhausted window to watch for its recovery, sleeps until a crossing is queued or the next retry is due (at most
    /// <see cref="IdleSleepMax"/>), instead of waking every <c>Alerts:PollMs</c>.
    /// </summary>
    private async Task SleepWhileIdleAsync(CancellationToken cancellationToken)
    {
        if (!outboxRead || Volatile.Read(ref added) == 1 || sink.Queued > 0 || recoveries.Count > 0)
        {
            return;
        }

        TimeSpan sleep = IdleSleepMax;
        if (retriesAtMs.TryPeek(out _, out long retryAtMs))
        {
            long untilMs = retryAtMs - time.GetUtcNow().ToUnixTimeMilliseconds();
            sleep = untilMs <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(untilMs, (long)IdleSleepMax.TotalMilliseconds));
        }

        if (sleep > TimeSpan.Zero)
        {
            await Task.WhenAny(sink.WhenQueuedAsync(), Task.Delay(sleep, time, cancellationToken)).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan IdleSleepMax = TimeSpan.FromMinutes(1);

    /// <summary>Whether the outbox may hold a message due at <paramref name="now"/> (then it is read, and what this knew is settled).</summary>
    private bool MayBeDue(long now)
    {
        bool retryDue = retriesAtMs.TryPeek(out _, out long retryAtMs) && retryAtMs <= now;
        return Interlocked.Exchange(ref added, 0) == 1 | retryDue | !outboxRead;
    }

    private async Task DeliverDueAsync(long now, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref outboxReads);
        if (!outboxRead && runtime.Store.DueInOutbox(long.MaxValue, 1) is [var earliest])
        {
            retriesAtMs.Enqueue(earliest.NextAttemptMs, earliest.NextAttemptMs); // a previous run's message, due later maybe
        }

        outboxRead = true;
        IReadOnlyList<OutboxDocument> due = runtime.Store.DueInOutbox(now, BatchMax);
        if (due.Count < BatchMax)
        {
            while (retriesAtMs.TryPeek(out _, out long atMs) && atMs <= now)
            {
                retriesAtMs.Dequeue(); // read just now: every message due by now is in this batch
            }
        }
        else
        {
            Interlocked.Exchange(ref added, 1); // more than a batch is due: the next round reads again
        }

        foreach (OutboxDocument message in due)
        {
            await DeliverAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    private void MoveAllToOutbox()
    {
        while (MoveToOutbox())
        {
        }
    }

    /// <summary>
    /// Turns queued alerts (a batch) into outbox messages and stores them; kept for the next try if the store refuses
    /// (the sink keeps the rest meanwhile). Runs on the dispatcher's loop and on a checkpoint's thread; returns whether
    /// more alerts are queued.
    /// </summary>
    private bool MoveToOutbox()
    {
        lock (unsaved)
        {
            return MoveBatch(unsaved);
        }
    }

    private bool MoveBatch(List<OutboxDocument> messages)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        while (messages.Count < BatchMax * 10 && sink.TryTake(out AuditEvent alert))
        {
            AlertMessage message = AlertMessage.From(alert);
            metrics.Alerts.Add(1, new KeyValuePair<string, object?>("scope", message.Scope), new KeyValuePair<string, object?>("threshold", message.ThresholdPercent));
            AddPerWebhook(messages, message, now);
        }

        while (messages.Count < BatchMax * 10 && sink.TryTake(out AlertMessage? hostMade))
        {
            AddPerWebhook(messages, hostMade!, now);
        }

        if (runtime.Store.AddToOutbox(messages) > 0)
        {
            Interlocked.Exchange(ref added, 1);
        }

        messages.Clear();
        return sink.Queued > 0;
    }

    private void AddPerWebhook(List<OutboxDocument> messages, AlertMessage message, long now)
    {
        string body = message.ToJson();
        foreach (string target in settings.Webhooks.Keys)
        {
            messages.Add(new OutboxDocument { Id = message.Id + "|" + target, EventId = message.Id, Target = target, Body = body, CreatedMs = now, NextAttemptMs = now });
        }
    }

    private async Task DeliverAsync(OutboxDocument message, CancellationToken cancellationToken)
    {
        string? error = null;
        if (!settings.Webhooks.TryGetValue(message.Target, out WebhookOptions? webhook))
        {
            error = "the webhook is no longer configured";
        }
        else
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new StringContent(message.Body, Encoding.UTF8) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.Add(AlertMessage.SignatureHeader, AlertMessage.Sign(message.Body, webhook.Secret, time.GetUtcNow().ToUnixTimeSeconds()));
                request.Headers.Add(AlertMessage.EventIdHeader, message.EventId);
                using HttpResponseMessage response = await clients.CreateClient(HttpClientName).SendAsync(request, cancellationToken).ConfigureAwait(false);
                int status = (int)response.StatusCode;
                error = response.IsSuccessStatusCode ? null : status is >= 300 and < 400 ? $"status {status} (redirects are not followed)" : $"status {status}";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                error = exception.Message;
            }
        }

        Record(message, error);
    }

    private void Record(OutboxDocument message, string? error)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        message.Attempts++;
        message.LastError = error;
        if (error is null)
        {
            message.DeliveredMs = now;
        }
        else
        {
            metrics.AlertDeliveriesFailed.Add(1, new KeyValuePair<string, object?>("webhook", message.Target));
            if (message.Attempts >= settings.AttemptsMax)
            {
                message.DeliveredMs = -1;
                metrics.AlertsUndelivered.Add(1, new KeyValuePair<string, object?>("webhook", message.Target));
                LogGivenUp(logger, message.EventId, message.Target, message.Attempts, error);
            }
            else
            {
                message.NextAttemptMs = now + Backoff(message.Attempts);
                retriesAtMs.Enqueue(message.NextAttemptMs, message.NextAttemptMs);
                LogRetry(logger, message.EventId, message.Target, message.Attempts, error);
            }
        }

        runtime.Store.UpdateOutbox(message);
    }

    /// <summary>RetryBaseMs × 2^(attempts − 1), at most RetryMaxSeconds.</summary>
    private long Backoff(int attempts)
    {
        long maxMs = settings.RetryMaxSeconds * 1000L, delayMs = settings.RetryBaseMs;
        for (int i = 1; i < attempts && delayMs < maxMs; i++)
        {
            delayMs *= 2;
        }

        return Math.Min(delayMs, maxMs);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {EventId} to webhook {Webhook} failed (try {Attempts}): {Error}; retrying")]
    private static partial void LogRetry(ILogger logger, string eventId, string webhook, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert {EventId} to webhook {Webhook} given up after {Attempts} tries: {Error}")]
    private static partial void LogGivenUp(ILogger logger, string eventId, string webhook, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The alert outbox could not be read or written; retrying next round")]
    private static partial void LogOutboxFailed(ILogger logger, Exception exception);
}
