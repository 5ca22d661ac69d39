using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>What a recovery found. <see cref="Corruption"/> is null when the log was read to its committed end.</summary>
/// <param name="SnapshotSequence">The sequence number of the last record the loaded snapshot holds (0: no snapshot).</param>
/// <param name="LastSequence">The sequence number of the last record recovered: the state is exactly the log up to it.</param>
/// <param name="RecordsReplayed">Delta records applied after the snapshot.</param>
/// <param name="EntriesScanned">Log entries (batches of records) read.</param>
/// <param name="ResumeAddress">The log address after the last good entry, where appending resumes.</param>
/// <param name="Corruption">
/// Null, or what stopped the replay early (a checksum failure or a gap) and where: records after it were not applied,
/// and the engine continues from the last good state.
/// </param>
/// <param name="Elapsed">Wall time of the whole recovery.</param>
/// <param name="SnapshotLoad">Wall time of loading the snapshot, part of <paramref name="Elapsed"/>.</param>
public sealed record RecoveryReport(
    long SnapshotSequence,
    long LastSequence,
    long RecordsReplayed,
    long EntriesScanned,
    long ResumeAddress,
    string? Corruption,
    TimeSpan Elapsed,
    TimeSpan SnapshotLoad);

/// <summary>
/// Rebuilds an engine: the newest snapshot, then every committed delta record after it, in log order.
/// No record is applied twice (records at or below the snapshot's sequence are skipped) and none is skipped
/// (each must be the previous sequence + 1). A record that fails its checksum, or a gap, stops the replay at the
/// last good record and is reported with its log address; garbage is never applied.
/// Used at start-up and by checkpoints (which replay one partition of the users at a time into a private engine to get
/// a consistent snapshot: see <see cref="CheckpointWriter"/>). At start-up the
/// replayed settles and expiries emit their budget alerts again (to <c>alerts</c>), with the wallets' alert bases read
/// from the store first: what a crash lost on its way to the outbox is emitted again, and the outbox drops repeats by id.
/// </summary>
internal static class Recovery
{
    public static (QuotaEngine Engine, RecoveryReport Report) Run(
        EngineOptions options, IDeltaLog log, LiteConfigStore store, TimeProvider time, IAuditSink? alerts = null) =>
        Run(options, log, store, time, alerts, UserPartition.Whole, stopAddress: long.MaxValue, reserveSequences: null, pace: null, snapshotCopy: null);

    /// <summary>
    /// Recovers the users of <paramref name="partition"/> (with their keys and reservations) from the newest snapshot and
    /// the log before <paramref name="stopAddress"/>. Every record still counts for the sequence check; only the owned
    /// ones are applied (each record's effects stay within its user's accounts). <paramref name="reserveSequences"/>, if
    /// given, receives per reservation slot the sequence of the last Reserve record applied to it (to merge partitions).
    /// <paramref name="snapshotCopy"/>, if given, is a file holding the newest snapshot's content (read in place of the store).
    /// </summary>
    public static (QuotaEngine Engine, RecoveryReport Report) Run(
        EngineOptions options, IDeltaLog log, LiteConfigStore store, TimeProvider time, IAuditSink? alerts,
        UserPartition partition, long stopAddress, long[]? reserveSequences, Action? pace, string? snapshotCopy)
    {
        long started = time.GetTimestamp();
        SnapshotDocument? snapshot = store.LatestSnapshot;
        QuotaEngine engine;
        long snapshotSequence = 0;
        long from = log.BeginAddress;
        if (snapshot is null)
        {
            engine = new QuotaEngine(options, time: time); // its NowMs reads the caller's clock, not the system's
        }
        else
        {
            using Stream stream = snapshotCopy is null ? store.OpenSnapshot(snapshot) : File.OpenRead(snapshotCopy);
            using var buffered = new BufferedStream(stream, 1 << 20);
            engine = SnapshotCodec.Read(buffered, options, time, out snapshotSequence, partition.IsWhole ? null : partition.Owns, pace);
            from = Math.Max(from, snapshot.ResumeAddress);
        }

        if (alerts is not null)
        {
            engine.EmitAlertsInReplay(alerts, store.AllUsers().Select(u => (u.Id, u.AlertBaseUnits, u.AlertSinceMs)));
        }

        TimeSpan snapshotLoad = time.GetElapsedTime(started);
        var replay = new Replay(engine, partition, reserveSequences) { Expected = snapshotSequence + 1 };
        long entries = 0, resume = from;
        string? corruption = null;
        using IEnumerator<LogEntry> scan = log.Scan(from).GetEnumerator();
        while (corruption is null && resume < stopAddress && NextEntry(scan, resume, out LogEntry entry, out corruption))
        {
            entries++;
            corruption = replay.Entry(entry);
            resume = corruption is null ? entry.NextAddress : resume;
            pace?.Invoke();
        }

        var report = new RecoveryReport(snapshotSequence, replay.Expected - 1, replay.Replayed, entries, resume, corruption, time.GetElapsedTime(started), snapshotLoad);
        return (engine, report);
    }

    /// <summary>The next committed entry; a log the device cannot read (FASTER's entry checksum) is corruption, not a crash.</summary>
    private static bool NextEntry(IEnumerator<LogEntry> scan, long address, out LogEntry entry, out string? corruption)
    {
        entry = default;
        corruption = null;
        try
        {
            if (!scan.MoveNext())
            {
                return false;
            }

            entry = scan.Current;
            return true;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            corruption = $"log unreadable after address {address}: {exception.GetType().Name}: {exception.Message}";
            return false;
        }
    }

    /// <summary>Applies log entries in order: each record once, none skipped, only those of the partition's users.</summary>
    private sealed class Replay(QuotaEngine engine, UserPartition partition, long[]? reserveSequences)
    {
        public long Expected;
        public long Replayed;

        public string? Entry(LogEntry entry)
        {
            ReadOnlySpan<byte> bytes = entry.Bytes.Span;
            int offset = 0;
            while (offset < bytes.Length)
            {
                DecodeStatus status = DeltaRecordCodec.TryRead(bytes[offset..], out DeltaRecord record, out long sequence, out ReadOnlySpan<byte> payload, out int size);
                if (status == DecodeStatus.UnknownVersion)
                {
                    // An intact record of another format: a data directory of another version, never damage to truncate away.
                    throw new InvalidDataException(
                        $"the delta log at address {entry.Address} + {offset} has format version {bytes[offset]}; this build reads versions " +
                        $"{DeltaRecordCodec.OldestReadableVersion} to {DeltaRecordCodec.CurrentVersion} (docs/operations.md \"Upgrade\"). Nothing was changed.");
                }

                if (status != DecodeStatus.Ok)
                {
                    return $"{status} in the record at log address {entry.Address} + {offset} (after sequence {Expected - 1})";
                }

                if (sequence >= Expected)
                {
                    if (sequence != Expected)
                    {
                        return $"sequence gap at log address {entry.Address} + {offset}: expected {Expected}, found {sequence}";
                    }

                    if (Apply(record, sequence, payload) is { } failure)
                    {
                        return $"record {sequence} at log address {entry.Address} + {offset} cannot be applied: {failure}";
                    }

                    Expected++;
                    Replayed++;
                }

                offset += size;
            }

            return null;
        }

        private string? Apply(in DeltaRecord record, long sequence, ReadOnlySpan<byte> payload)
        {
            if (record.Kind != DeltaKind.RunStarted && !partition.Owns(record.UserId))
            {
                return null; // another partition's user: its effects are all on that user's accounts
            }

            try
            {
                engine.Apply(record, payload);
            }
            catch (InvalidDataException exception)
            {
                return exception.Message;
            }

            if (record.Kind == DeltaKind.Reserve && reserveSequences is not null)
            {
                reserveSequences[engine.Reservations.SlotOf(record.ReservationId)] = sequence;
            }

            return null;
        }
    }
}

/// <summary>
/// One of <see cref="Count"/> disjoint sets of users (by id modulo the count), with their keys and reservations. Every
/// delta record changes the accounts of one user only (the record's user: its wallet, its keys, their reservations), so a
/// partition replays on its own, and a checkpoint needs memory for one partition at a time.
/// </summary>
internal readonly record struct UserPartition(int Index, int Count)
{
    public static readonly UserPartition Whole = new(0, 1);

    public bool IsWhole => Count == 1;

    public bool Owns(int userId) => Count == 1 || userId % Count == Index;
}
