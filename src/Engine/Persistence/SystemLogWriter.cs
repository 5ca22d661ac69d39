using System.Threading.Channels;
using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>Where log rows go: one batch per call, in one transaction (the config store; tests inject a failing one).</summary>
internal interface ILogRowStore
{
    void AppendLogs(IReadOnlyCollection<LogDocument> rows);
}

/// <summary>
/// Writes the owner-visible log: audit events as structured rows (<see cref="LogDocument.From"/>) and the host's own
/// rows, in batches from a background loop (LiteDB writes ≈ 10× faster in batches). The engine calls
/// <see cref="Record"/> under a key's lock or on the finish path, so it only enqueues the event; the loop builds the rows.
/// A full queue drops the row and counts it (<see cref="DroppedRows"/>).
/// <para>Failures: a batch the store refuses is retried <see cref="AttemptsMax"/> times with a growing pause, then dropped
/// and counted. The loop never stops on a store error: it reports it (<see cref="Fault"/> until a batch is written again,
/// <see cref="FailedWrites"/>, and the <see cref="WriteFailed"/> event the host logs), and goes on with the next batch.</para>
/// Rows are not accounting state: a crash may lose the last unflushed batch.
/// </summary>
internal sealed class SystemLogWriter : IAuditSink, IAsyncDisposable
{
    /// <summary>Tries per batch before it is dropped.</summary>
    public const int AttemptsMax = 3;
    private const int QueueRowsMax = 100_000;
    private const int BatchRowsMax = 2_000;
    private readonly ILogRowStore store;
    private readonly TimeProvider time;
    private readonly TimeSpan retryPause;
    private readonly Channel<Item> queue = Channel.CreateBounded<Item>(
        new BoundedChannelOptions(QueueRowsMax) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Task loop;
    private long droppedRows;
    private long failedWrites;
    private volatile string? fault;

    public SystemLogWriter(ILogRowStore store, TimeProvider? time = null, TimeSpan? retryPause = null)
    {
        this.store = store;
        this.time = time ?? TimeProvider.System;
        this.retryPause = retryPause ?? TimeSpan.FromMilliseconds(200);
        loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Rows lost: the queue was full, or their batch failed <see cref="AttemptsMax"/> times.</summary>
    public long DroppedRows => Interlocked.Read(ref droppedRows);

    /// <summary>Batch writes the store refused (each try counts).</summary>
    public long FailedWrites => Interlocked.Read(ref failedWrites);

    /// <summary>Null while rows are written; otherwise the last store error (cleared by the next written batch).</summary>
    public string? Fault => fault;

    /// <summary>Raised on the loop's thread for every refused batch write (the host logs it).</summary>
    public event Action<Exception>? WriteFailed;

    public void Record(in AuditEvent auditEvent) => Enqueue(new Item(auditEvent, null));

    /// <summary>Queues a row the host built (its consume rows).</summary>
    public void Enqueue(LogDocument row) => Enqueue(new Item(default, row));

    private void Enqueue(Item item)
    {
        if (!queue.Writer.TryWrite(item))
        {
            Interlocked.Increment(ref droppedRows);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<LogDocument>(BatchRowsMax);
        while (await queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < BatchRowsMax && queue.Reader.TryRead(out Item item))
            {
                batch.Add(item.Row ?? LogDocument.From(item.Event));
            }

            await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    /// <summary>The one boundary where a store error is caught: reported, retried, then the batch is dropped.</summary>
    private async Task WriteAsync(List<LogDocument> batch)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                store.AppendLogs(batch);
                fault = null;
                return;
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                Interlocked.Increment(ref failedWrites);
                fault = $"log rows cannot be written: {exception.GetType().Name}: {exception.Message}";
                WriteFailed?.Invoke(exception);
                if (attempt == AttemptsMax)
                {
                    Interlocked.Add(ref droppedRows, batch.Count);
                    return;
                }
            }

            await Task.Delay(retryPause * attempt, time).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop.ConfigureAwait(false);
    }

    /// <summary>A queued audit event (turned into a row by the loop) or a ready row (the host's).</summary>
    private readonly record struct Item(AuditEvent Event, LogDocument? Row);
}
