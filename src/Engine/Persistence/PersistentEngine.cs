using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>
/// The engine with its persistence: opens (recovers) the data directory, streams every change to the delta log,
/// runs the background loops (group commit, expiry and window rollover, checkpoints) and shuts down cleanly
/// (commit, then checkpoint). Data directory layout: <c>log/</c> (FASTER), <c>quota.db</c> (LiteDB).
/// <para>Durability: with <see cref="Durability.WriteBehind"/> a change is acknowledged at once and is durable within
/// one CommitInterval; a crash loses at most the changes of the last interval. With <see cref="Durability.Durable"/>
/// callers await <see cref="AcknowledgeAsync"/> after each operation, which completes after the group commit that
/// holds it: a crash loses nothing that was acknowledged.</para>
/// </summary>
public sealed class PersistentEngine : IAsyncDisposable
{
    private readonly PersistenceOptions options;
    private readonly IDeltaLog log;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim checkpointGate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private Task? ticker;
    private Task? checkpointer;
    private volatile string? checkpointFault;
    private int closed;
    private readonly IAuditSink audit;

    private PersistentEngine(PersistenceOptions options, IDeltaLog log, LiteConfigStore store, QuotaEngine engine,
        DeltaLogWriter writer, SystemLogWriter logs, IAuditSink audit, RecoveryReport recovery, TimeProvider time)
    {
        this.audit = audit;
        this.options = options;
        this.log = log;
        this.time = time;
        Store = store;
        Engine = engine;
        Writer = writer;
        Logs = logs;
        Recovery = recovery;
    }

    /// <summary>The recovered engine; call its operations directly (the same thread-safety as an in-memory one).</summary>
    public QuotaEngine Engine { get; }
    internal DeltaLogWriter Writer { get; }
    internal LiteConfigStore Store { get; }
    internal SystemLogWriter Logs { get; }
    /// <summary>What the start-up recovery found; check <see cref="RecoveryReport.Corruption"/>.</summary>
    public RecoveryReport Recovery { get; }

    /// <summary>The durability this engine was opened with.</summary>
    public Durability Durability => options.Durability;

    /// <summary>Null while healthy; otherwise what is failing, with context.</summary>
    public string? Fault => Writer.Fault ?? checkpointFault;

    /// <summary>
    /// Opens the data directory: recovers the newest snapshot and the log after it, starts a new run (its reservation ids
    /// never repeat an earlier run's) and the background loops. Throws if the directory cannot be opened or its log was
    /// written by an incompatible format version; a failed open leaves the directory closed and unchanged.
    /// </summary>
    /// <param name="options">Where and how; validated (throws naming a setting out of range).</param>
    /// <param name="time">The clock of the engine and its loops; null: the system clock.</param>
    /// <param name="audit">Receives audit events besides the system log (optional).</param>
    /// <param name="openLog">Opens the log in a directory; defaults to FASTER (tests wrap it to inject faults).</param>
    /// <param name="leases">The lease authority of a node with leased windows (<see cref="EngineOptions.LeasedWindows"/>); null: none.</param>
    public static PersistentEngine Open(
        PersistenceOptions options, TimeProvider? time = null, IAuditSink? audit = null, Func<string, IDeltaLog>? openLog = null, Leases.ILeaseAuthority? leases = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = options.Validated();
        if (leases is not null && !options.Engine.LeasedWindows)
        {
            throw new ArgumentException("a lease authority needs EngineOptions.LeasedWindows", nameof(leases));
        }

        time ??= TimeProvider.System;
        Directory.CreateDirectory(options.DataDir);
        var store = new LiteConfigStore(Path.Combine(options.DataDir, "quota.db"));
        IDeltaLog? log = null;
        try
        {
            log = (openLog ?? (directory => new FasterDeltaLog(directory)))(Path.Combine(options.DataDir, "log"));
            (QuotaEngine engine, RecoveryReport report, DeltaLogWriter writer, int epoch) = Recover(options, log, store, time, audit);
            engine.StartRun(epoch);
            var logs = new SystemLogWriter(store); // its retry pause is wall-clock I/O backoff, not engine time
            IAuditSink sinks = audit is null ? logs : new TeeAuditSink(logs, audit);
            engine.Attach(writer, sinks, leases);
            var opened = new PersistentEngine(options, log, store, engine, writer, logs, sinks, report, time);
            opened.Start();
            return opened;
        }
        catch
        {
            log?.Dispose(); // a start that fails leaves the directory closed, as it found it
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Recovers the engine, and durably starts a new run (epoch) in the log before anything can be issued. The budget
    /// alerts of the replayed records go to <paramref name="alerts"/> again: a crash may have lost them in the host's queue.
    /// </summary>
    private static (QuotaEngine, RecoveryReport, DeltaLogWriter, int) Recover(
        PersistenceOptions options, IDeltaLog log, LiteConfigStore store, TimeProvider time, IAuditSink? alerts)
    {
        (QuotaEngine engine, RecoveryReport report) = Persistence.Recovery.Run(options.Engine, log, store, time, alerts);
        if (!options.Engine.LeasedWindows && engine.HoldsLeases())
        {
            // Without an authority those windows could neither admit nor give their leases back (docs/design.md "Leases").
            throw new InvalidOperationException("the data directory holds leased windows: open it with EngineOptions.LeasedWindows and a lease authority");
        }

        if (report.Corruption is not null)
        {
            // Never append behind garbage: everything good is in the recovered engine, so snapshot it and resume
            // the log after the damaged part. The report keeps saying what was lost, and where.
            SaveSnapshot(engine, store, report.LastSequence, log.TailAddress, time);
            log.TruncateUntil(log.TailAddress);
        }

        var writer = new DeltaLogWriter(log, options.Engine.ReservationsMax, report.LastSequence + 1, options.CommitInterval);
        // A new epoch, durable before the first id of this run is issued: ids never repeat, even if this run crashes
        // after losing records (docs/design.md "Reservation ids").
        int epoch = (engine.Reservations.Epoch % Model.ReservationId.EpochMax) + 1;
        writer.Append(DeltaRecord.RunStarted(epoch, time.GetUtcNow().ToUnixTimeMilliseconds()));
        writer.Flush();
        if (writer.Fault is { } fault)
        {
            throw new IOException($"the delta log cannot be written at start: {fault}");
        }

        return (engine, report, writer, epoch);
    }

    private void Start()
    {
        Writer.Start();
        ticker = Task.Run(() => EveryAsync(options.TickInterval, () =>
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            Engine.ExpireDue(now);
            Engine.RollDueWindows(now);
            return Task.CompletedTask;
        }));
        checkpointer = Task.Run(() => EveryAsync(options.CheckpointInterval, () => CheckpointAsync(stopping.Token)));
    }

    private async Task EveryAsync(TimeSpan period, Func<Task> work)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token).ConfigureAwait(false))
            {
                await work().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Completes when the caller's changes so far are acknowledged under the configured durability.</summary>
    public ValueTask AcknowledgeAsync(CancellationToken cancellationToken = default) =>
        options.Durability == Durability.Durable ? Writer.WhenCommittedAsync(Writer.AppendedThrough, cancellationToken) : ValueTask.CompletedTask;

    /// <summary>
    /// Compacts the log: writes a new snapshot from the newest one and the committed log after it, one partition of the
    /// users at a time (<see cref="CheckpointWriter"/>: a consistent state by construction, without a second copy of the
    /// engine and without touching the live one, so requests never wait on it), and truncates the log before it. Runs on
    /// a thread of its own at below-normal priority, never on the thread pool, resting between slices of work so that it
    /// takes at most about <see cref="CheckpointCpuShare"/> of a core. Does nothing when nothing was logged since the
    /// newest snapshot.
    /// </summary>
    public Task CheckpointAsync(CancellationToken cancellationToken = default) => CheckpointAsync(paced: true, cancellationToken);

    /// <summary>The share of one core a paced checkpoint takes (it rests the remainder of every slice).</summary>
    internal double CheckpointCpuShare { get; set; } = 0.5;

    /// <summary>
    /// Keys a checkpoint partition holds (0: the default rule, <see cref="DefaultPartitionKeys"/>): the memory a checkpoint
    /// takes besides the live engine, against the passes it makes over the snapshot.
    /// </summary>
    internal int CheckpointPartitionKeys { get; set; }

    /// <summary>
    /// One partition up to 32,768 keys, then partitions of at least that many, at most eight: at 1M keys a checkpoint holds
    /// an eighth of the keys at a time and reads the snapshot eight times.
    /// </summary>
    private static int DefaultPartitionKeys(int keyCount) => Math.Max(1 << 15, (keyCount + 7) / 8);

    /// <summary>Called after each partition a checkpoint writes (tests: work goes on while a checkpoint is half-way).</summary>
    internal Action? CheckpointPartitionWritten { get; set; }

    private async Task CheckpointAsync(bool paced, CancellationToken cancellationToken)
    {
        await checkpointGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Writer.FlushAsync().ConfigureAwait(false);
            if (Writer.CommittedThrough <= (Store.LatestSnapshot?.Sequence ?? 0))
            {
                return; // nothing new: an idle engine costs no checkpoint work
            }

            var pacer = new WorkPacer(time, paced ? CheckpointCpuShare : 1, cancellationToken);
            CheckpointWriter.Outcome outcome = await OnCheckpointThread(() =>
                new CheckpointWriter(options.Engine, log, Store, time).Write(
                    Path.Combine(options.DataDir, "snapshot.spool"), Engine.LastTokenId,
                    CheckpointPartitionKeys > 0 ? CheckpointPartitionKeys : DefaultPartitionKeys(Engine.LastTokenId), pacer,
                    audit.BeforeCheckpoint, // the snapshot ends the replay of the alerts of the records it covers
                    CheckpointPartitionWritten)).ConfigureAwait(false);
            if (outcome.Corruption is not null)
            {
                checkpointFault = "checkpoint stopped: " + outcome.Corruption;
                return;
            }

            log.TruncateUntil(outcome.ResumeAddress);
            checkpointFault = null;
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or LiteDB.LiteException)
        {
            checkpointFault = $"checkpoint failed: {exception.GetType().Name}: {exception.Message}";
        }
        finally
        {
            checkpointGate.Release();
        }
    }

    /// <summary>Runs a checkpoint's work on a thread of its own: a long job on the thread pool would starve the requests.</summary>
    private static Task<T> OnCheckpointThread<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        {
            IsBackground = true,
            Priority = ThreadPriority.BelowNormal,
            Name = "quota-checkpoint",
        };
        thread.Start();
        return done.Task;
    }

    private static void SaveSnapshot(QuotaEngine engine, LiteConfigStore store, long sequence, long resumeAddress, TimeProvider time)
    {
        using var content = new MemoryStream();
        SnapshotCodec.Write(engine, content, sequence);
        content.Position = 0;
        store.SaveSnapshot(sequence, resumeAddress, content, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>
    /// Clean shutdown: stops the loops (a checkpoint under way is abandoned), commits everything, and checkpoints only when
    /// the log since the newest snapshot holds more than <see cref="StopCheckpointRecordsMin"/> records: a stop stays
    /// short, and the next start replays at most that many records more than it would after a checkpoint. Everything is
    /// durable before that checkpoint starts, so a stop cut short during it (a container's kill) loses nothing.
    /// </summary>
    public ValueTask DisposeAsync() => CloseAsync(checkpoint: true);

    /// <summary>Records in the log since the newest snapshot above which a clean stop checkpoints (about half a second of replay).</summary>
    internal const long StopCheckpointRecordsMin = 1_000_000;

    /// <summary>Commits and closes without a checkpoint: what a crash right after a commit leaves (tests, tools).</summary>
    internal ValueTask CloseWithoutCheckpointAsync() => CloseAsync(checkpoint: false);

    private async ValueTask CloseAsync(bool checkpoint)
    {
        if (Interlocked.Exchange(ref closed, 1) != 0)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        foreach (Task? loop in new[] { ticker, checkpointer })
        {
            if (loop is not null)
            {
                await loop.ConfigureAwait(false);
            }
        }

        await Writer.StopAsync().ConfigureAwait(false);
        if (checkpoint && Writer.CommittedThrough - (Store.LatestSnapshot?.Sequence ?? 0) > StopCheckpointRecordsMin)
        {
            await CheckpointAsync(paced: false, CancellationToken.None).ConfigureAwait(false);
        }

        await Writer.DisposeAsync().ConfigureAwait(false);
        await Logs.DisposeAsync().ConfigureAwait(false);
        log.Dispose();
        Store.Dispose();
        stopping.Dispose();
        checkpointGate.Dispose();
    }
}
