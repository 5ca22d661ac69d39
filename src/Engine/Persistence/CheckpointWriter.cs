using Quota.Engine.Reservations;

namespace Quota.Engine.Persistence;

/// <summary>
/// Writes a new snapshot from the newest one and the committed log after it, without a second copy of the engine and
/// without touching the live one (docs/design.md "Durability", checkpoints). The users are split into partitions (by
/// id); each is recovered on its own into a private engine — its users, their keys and reservations from the snapshot,
/// then the log records of those users — written out, and dropped before the next. Every partition replays the same
/// log prefix (the first one fixes where it ends), so the snapshot is the state of that prefix exactly, as a whole
/// replay would build it. The reservation table is shared by all users, so it is merged: a slot keeps the reservation of
/// the last Reserve record that claimed it (or the old snapshot's, if none did).
/// </summary>
internal sealed class CheckpointWriter(EngineOptions options, IDeltaLog log, LiteConfigStore store, TimeProvider time)
{
    /// <summary>What a checkpoint covers; <see cref="Corruption"/> non-null: nothing was written.</summary>
    public readonly record struct Outcome(long Sequence, long ResumeAddress, string? Corruption);

    /// <summary>
    /// Writes the snapshot to <paramref name="spoolPath"/>, then stores it. <paramref name="keysPerPartition"/> bounds the
    /// keys a partition holds (from <paramref name="keyCount"/>, the live engine's); <paramref name="pacer"/> keeps the work
    /// to its share of a core and may stop it (the file is then deleted, the store unchanged); <paramref name="beforeStore"/>
    /// runs before the snapshot is stored.
    /// </summary>
    public Outcome Write(string spoolPath, int keyCount, int keysPerPartition, WorkPacer pacer, Action beforeStore, Action? partitionWritten = null)
    {
        int partitions = Math.Max(1, (keyCount + keysPerPartition - 1) / keysPerPartition);
        var merged = new MergedReservations(options.ReservationsMax);
        var reserveSequences = new long[options.ReservationsMax];
        long sequence = 0, stopAddress = log.TailAddress;
        int epoch = 0;
        // Every partition reads the newest snapshot: from a plain copy, read out of the store once (the store's reads
        // allocate each chunk anew, which made every partition churn the whole snapshot through the heap).
        SnapshotDocument? latest = store.LatestSnapshot;
        string? previous = latest is null ? null : spoolPath + ".previous";
        try
        {
            if (latest is not null)
            {
                using Stream source = store.OpenSnapshot(latest);
                using var copy = new FileStream(previous!, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                source.CopyTo(copy, 1 << 16);
            }

            using (var file = new FileStream(spoolPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var w = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                SnapshotCodec.Begin(w, sequence, epoch); // a placeholder: the first partition learns the sequence it covers
                for (int index = 0; index < partitions; index++)
                {
                    Array.Clear(reserveSequences);
                    (QuotaEngine engine, RecoveryReport report) = Recovery.Run(
                        options, log, store, time, alerts: null, new UserPartition(index, partitions), stopAddress, reserveSequences, pacer.Step, previous);
                    if (report.Corruption is not null)
                    {
                        return new Outcome(0, 0, report.Corruption);
                    }

                    if (index == 0)
                    {
                        (sequence, stopAddress, epoch) = (report.LastSequence, report.ResumeAddress, engine.Reservations.Epoch);
                    }
                    else if (report.LastSequence != sequence)
                    {
                        return new Outcome(0, 0, $"checkpoint partition {index} ended at sequence {report.LastSequence}, the first at {sequence}");
                    }

                    SnapshotCodec.WriteAccounts(w, engine, pacer.Step);
                    merged.Add(engine.Reservations, reserveSequences);
                    pacer.CollectDropped(); // the partition just written: one at a time in memory
                    partitionWritten?.Invoke();
                }

                merged.WriteTo(w);
                SnapshotCodec.End(w);
                w.Flush();
                file.Position = 0;
                SnapshotCodec.Begin(w, sequence, epoch); // the same size as the placeholder
            }

            beforeStore();
            using (var content = new FileStream(spoolPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16))
            {
                store.SaveSnapshot(sequence, stopAddress, content, time.GetUtcNow().ToUnixTimeMilliseconds());
            }

            return new Outcome(sequence, stopAddress, null);
        }
        finally
        {
            File.Delete(spoolPath);
            if (previous is not null)
            {
                File.Delete(previous);
            }
        }
    }

    /// <summary>The reservation table of all partitions: per slot, the record of the last Reserve that claimed it.</summary>
    private sealed class MergedReservations(int capacity)
    {
        private readonly ReservationRecord[] records = new ReservationRecord[capacity];
        private readonly long[] words = new long[capacity];
        private readonly long[] claimedAt = new long[capacity];

        /// <summary>
        /// A partition's table: a slot's record wins if a later Reserve record claimed it (a slot no replayed Reserve
        /// claimed holds the old snapshot's record, which only one partition has).
        /// </summary>
        public void Add(ReservationTable table, long[] reserveSequences)
        {
            for (int slot = 0; slot < table.Capacity; slot++)
            {
                long word = table.StateWordOf(slot);
                if (ReservationTable.StateOf(word) == ReservationState.Free ||
                    (words[slot] != 0 && reserveSequences[slot] <= claimedAt[slot]))
                {
                    continue;
                }

                records[slot] = table[slot];
                words[slot] = word;
                claimedAt[slot] = reserveSequences[slot];
            }
        }

        public void WriteTo(BinaryWriter w)
        {
            for (int slot = 0; slot < records.Length; slot++)
            {
                if (words[slot] != 0)
                {
                    SnapshotCodec.WriteReservation(w, slot, words[slot], records[slot]);
                }
            }
        }
    }
}
