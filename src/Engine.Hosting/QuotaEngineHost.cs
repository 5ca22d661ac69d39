using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quota.Engine.Persistence;

namespace Quota.Engine.Hosting;

/// <summary>
/// The application's one persistent engine (a singleton). It is opened — the data directory recovered — by
/// <see cref="QuotaEngineLifetime"/> when the host starts, or earlier by the first caller of <see cref="Persistent"/>
/// (a service resolved while the application is built), and closed cleanly (commit; a snapshot when the log is long) when the host stops.
/// <para>Thread-safety: <see cref="Persistent"/> opens exactly once whatever the number of callers; the engine's own
/// operations are lock-free (see <see cref="QuotaEngine"/>).</para>
/// </summary>
public sealed partial class QuotaEngineHost : IAsyncDisposable
{
    private readonly Lazy<PersistentEngine> persistent;
    private int closed;

    /// <summary>Prepares the opening; nothing is opened on disk until <see cref="Persistent"/> is first read.</summary>
    /// <param name="options">The bound options (validated when read: a bad value throws naming it).</param>
    /// <param name="time">The engine's clock (the application's <see cref="TimeProvider"/>).</param>
    /// <param name="logger">Logs the open, the recovery and a corruption found in it.</param>
    /// <param name="opening">What the application adds (audit sink, log device, alert thresholds); null: nothing.</param>
    public QuotaEngineHost(IOptions<QuotaEngineOptions> options, TimeProvider time, ILogger<QuotaEngineHost> logger, QuotaEngineOpening? opening = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        Time = time;
        persistent = new Lazy<PersistentEngine>(() => Open(options.Value, time, logger, opening ?? new QuotaEngineOpening()), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The persistent engine, opened (recovered) on first read; throws what the open throws (a bad directory, a log of an incompatible format).</summary>
    public PersistentEngine Persistent
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref closed) != 0, this);
            return persistent.Value;
        }
    }

    /// <summary>The recovered engine (<see cref="PersistentEngine.Engine"/>).</summary>
    public QuotaEngine Engine => Persistent.Engine;

    /// <summary>The clock the engine was opened with: pass <c>Time.GetUtcNow()</c> as the engine's <c>nowMs</c>.</summary>
    public TimeProvider Time { get; }

    /// <summary>Whether the engine has been opened and not yet closed.</summary>
    public bool IsOpen => persistent.IsValueCreated && Volatile.Read(ref closed) == 0;

    /// <summary>Closes the engine if it was opened: stops its loops, commits the log (and checkpoints a long one). Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref closed, 1) == 0 && persistent.IsValueCreated)
        {
            await persistent.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static PersistentEngine Open(QuotaEngineOptions options, TimeProvider time, ILogger logger, QuotaEngineOpening opening)
    {
        PersistenceOptions persistence = options.ToPersistence();
        persistence = persistence with { Engine = persistence.Engine with { AlertThresholdsPercent = opening.AlertThresholdsPercent } };
        PersistentEngine engine = PersistentEngine.Open(persistence, time, opening.Audit, opening.OpenLog);
        RecoveryReport r = engine.Recovery;
        string dataDir = Path.GetFullPath(options.DataDir);
        Opened(logger, dataDir, options.Durability, r.SnapshotSequence, (long)r.SnapshotLoad.TotalMilliseconds, r.RecordsReplayed,
            r.EntriesScanned, r.LastSequence, r.ResumeAddress, (long)r.Elapsed.TotalMilliseconds);

        if (engine.Recovery.Corruption is { } corruption)
        {
            CorruptionRecovered(logger, corruption);
        }

        return engine;
    }

    // Each recovery number is a field of its own, queryable in a structured log sink (docs/operations.md "Restore").
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Quota engine opened {DataDir} ({Durability}): snapshot at sequence {SnapshotSequence} " +
        "loaded in {SnapshotLoadMs} ms, {RecordsReplayed} records replayed from {EntriesScanned} log entries up to sequence {LastSequence}, " +
        "resuming at log address {ResumeAddress}; recovery took {RecoveryMs} ms")]
    private static partial void Opened(ILogger logger, string dataDir, Durability durability, long snapshotSequence, long snapshotLoadMs,
        long recordsReplayed, long entriesScanned, long lastSequence, long resumeAddress, long recoveryMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Quota engine recovered past a damaged delta log; the good prefix was kept: {Corruption}")]
    private static partial void CorruptionRecovered(ILogger logger, string corruption);
}
