using System.Collections.Concurrent;
using Quota.Engine.Diagnostics;

namespace Quota.Host.Alerts;

/// <summary>
/// Receives the engine's audit events and keeps the budget alerts (<see cref="AuditAction.ThresholdReached"/>) for the
/// <see cref="AlertDispatcher"/>, which drains them into the durable outbox. Called on the finish path under a key's
/// lock, so it only enqueues a struct, lock-free, and never refuses one: a crossing of a durable record must reach the
/// outbox (docs/alerts.md). The queue has no fixed bound: what bounds it is that each account crosses each threshold
/// once per window, so it holds at most the accounts × thresholds of one burst unless the outbox cannot be written;
/// <see cref="Queued"/> (the <c>quota_alerts_queued</c> gauge) shows how far the outbox is behind.
/// </summary>
/// <remarks>
/// It also tells the key index of keys a policy paused or restored (<see cref="Runtime.KeyStatusChanges"/>), hands the
/// engine's events to <see cref="RecoveryWatch"/>, and holds the events the host makes itself (<see cref="Enqueue"/>:
/// <c>quota.recovered</c>, <c>quota.burn_rate_warning</c>, one per window each), delivered the same way.
/// </remarks>
public sealed class AlertSink(Runtime.KeyStatusChanges? statusChanges = null, RecoveryWatch? recoveries = null) : IAuditSink
{
    private readonly ConcurrentQueue<AuditEvent> queue = new();
    private readonly ConcurrentQueue<AlertMessage> hostMade = new();
    private long queued;
    private volatile Action? persist;
    private TaskCompletionSource? sleeper; // the dispatcher, asleep until a crossing arrives (set only while it sleeps)

    /// <summary>Crossings received and not yet taken for the outbox.</summary>
    public long Queued => Interlocked.Read(ref queued);

    public void Record(in AuditEvent auditEvent)
    {
        if (auditEvent.Action is AuditAction.ExhaustedDisable or AuditAction.AutoRestoreReset or AuditAction.ManualReset
            or AuditAction.UpdateDisable or AuditAction.UpdateRestore)
        {
            statusChanges?.Mark(auditEvent.TokenId);
        }

        recoveries?.Record(auditEvent);
        if (auditEvent.Action == AuditAction.ThresholdReached)
        {
            queue.Enqueue(auditEvent);
            Interlocked.Increment(ref queued);
            Interlocked.Exchange(ref sleeper, null)?.TrySetResult(); // lock-free; only the first crossing after a quiet spell finds it
        }
    }

    /// <summary>Queues an event the host made (not the engine) for the outbox, like a crossing.</summary>
    public void Enqueue(AlertMessage message)
    {
        hostMade.Enqueue(message);
        Interlocked.Increment(ref queued);
        Interlocked.Exchange(ref sleeper, null)?.TrySetResult();
    }

    /// <summary>Takes the oldest queued host-made event (the dispatcher, one reader at a time).</summary>
    internal bool TryTake(out AlertMessage? message)
    {
        if (!hostMade.TryDequeue(out message))
        {
            return false;
        }

        Interlocked.Decrement(ref queued);
        return true;
    }

    /// <summary>
    /// Completes when a crossing is queued (at once if one is): the dispatcher waits on it instead of polling while idle.
    /// One waiter at a time.
    /// </summary>
    internal Task WhenQueuedAsync()
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref sleeper, waiter);
        if (Queued > 0 && Interlocked.Exchange(ref sleeper, null) is { } missed)
        {
            missed.TrySetResult(); // queued before the waiter was visible
        }

        return waiter.Task;
    }

    /// <summary>Takes the oldest queued crossing (the dispatcher, one reader at a time).</summary>
    internal bool TryTake(out AuditEvent alert)
    {
        if (!queue.TryDequeue(out alert))
        {
            return false;
        }

        Interlocked.Decrement(ref queued);
        return true;
    }

    /// <summary>The dispatcher's move of the queued alerts into the durable outbox, for <see cref="BeforeCheckpoint"/>.</summary>
    internal void PersistWith(Action moveAllToOutbox) => persist = moveAllToOutbox;

    /// <summary>
    /// Before a snapshot: every alert queued so far goes into the outbox now. The snapshot ends what a later recovery
    /// replays, and so what it could emit again (docs/alerts.md "Crashes"). A store error propagates: no snapshot then.
    /// So does a checkpoint that comes before the dispatcher can write the outbox while crossings are queued (those a
    /// start-up recovery re-emitted): the snapshot waits, and the log keeps them re-derivable.
    /// </summary>
    public void BeforeCheckpoint()
    {
        if (persist is { } moveAllToOutbox)
        {
            moveAllToOutbox();
        }
        else if (Queued > 0)
        {
            throw new IOException("budget alerts are queued and the alert outbox is not open yet; the snapshot waits for it");
        }
    }
}
