using System.Threading.Channels;
using Quota.Engine.Diagnostics;

namespace Quota.Host.Alerts;

/// <summary>
/// Receives the engine's audit events and keeps the budget alerts (<see cref="AuditAction.ThresholdReached"/>) for the
/// <see cref="AlertDispatcher"/>. Called on the finish path, so it only enqueues a struct; a full queue drops the
/// event and counts it (<see cref="Dropped"/>).
/// </summary>
public sealed class AlertSink : IAuditSink
{
    private const int QueueMax = 10_000;
    private readonly Channel<AuditEvent> queue = Channel.CreateBounded<AuditEvent>(
        new BoundedChannelOptions(QueueMax) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private long dropped;
    private volatile Action? persist;

    public long Dropped => Interlocked.Read(ref dropped);

    public ChannelReader<AuditEvent> Reader => queue.Reader;

    public void Record(in AuditEvent auditEvent)
    {
        if (auditEvent.Action == AuditAction.ThresholdReached && !queue.Writer.TryWrite(auditEvent))
        {
            Interlocked.Increment(ref dropped);
        }
    }

    /// <summary>The dispatcher's move of the queued alerts into the durable outbox, for <see cref="BeforeCheckpoint"/>.</summary>
    internal void PersistWith(Action moveAllToOutbox) => persist = moveAllToOutbox;

    /// <summary>
    /// Before a snapshot: every alert queued so far goes into the outbox now. The snapshot ends what a later recovery
    /// replays, and so what it could emit again (docs/alerts.md "Crashes"). A store error propagates: no snapshot then.
    /// </summary>
    public void BeforeCheckpoint() => persist?.Invoke();
}
