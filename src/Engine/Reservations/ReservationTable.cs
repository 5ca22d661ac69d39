using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine.Reservations;

/// <summary>
/// One reservation: what it holds and where. Fields other than <see cref="StateWord"/> are written by the
/// owner of the record (the reserve that claimed it, or the finisher that won Open → Finishing) before the
/// state word publishes them.
/// </summary>
internal struct ReservationRecord
{
    /// <summary>(sequence &lt;&lt; 8) | state: one word, so "this id is still this record, and open" is one CAS.</summary>
    public long StateWord;
    public int TokenId;
    public int UserId;
    public long AmountUnits;
    public long ChargedUnits;
    public long ExpiresAtMs;
    /// <summary>Window generation per policy index, 16 bits each.</summary>
    public long Generations;
    public byte PolicyMask;
    public bool Exhausted;

    public readonly ushort GenerationOf(int policyIndex) => GenerationIn(Generations, policyIndex);

    public static ushort GenerationIn(long generations, int policyIndex) => (ushort)((ulong)generations >> (policyIndex * 16));
}

/// <summary>
/// A preallocated ring of reservation records (DESIGN.md §4, invariant 2). Claiming a record is one CAS (plus one
/// shared atomic per block of 64 claims); finished records are recycled in ring order, so a finished reservation's
/// outcome stays available for idempotent replies until about <c>capacity</c> newer reservations were made.
/// Every transition is a CAS on the record's state word, so each reservation ends exactly once.
/// </summary>
internal sealed class ReservationTable
{
    private readonly ReservationRecord[] records;
    private readonly int mask;
    private long cursor;

    // Each thread takes blocks of BlockSlots positions from the shared cursor and claims within its block: one shared
    // atomic per block instead of per reservation, and records of different threads on different cache lines.
    // Recycling stays in ring order at block granularity (the idempotency horizon stays ≈ capacity).
    private const int BlockSlots = 64;
    [ThreadStatic]
    private static ReservationTable? blockOwner;
    [ThreadStatic]
    private static long blockNext;
    [ThreadStatic]
    private static long blockEnd;

    public ReservationTable(int capacity)
    {
        Invariant.Assert(capacity > 0 && (capacity & (capacity - 1)) == 0, "reservation capacity is a power of two");
        records = new ReservationRecord[capacity];
        mask = capacity - 1;
    }

    public int Capacity => records.Length;

    /// <summary>Where claiming continues (a position; its slot is position mod capacity).</summary>
    public long Cursor => Volatile.Read(ref cursor);

    /// <summary>
    /// After recovery: claims resume right after the newest record, so finished records keep answering repeats as long
    /// as they would have without the restart. Records are reused in ring order and a slot's sequence counts its passes,
    /// so the newest is the one with the largest sequence × capacity + slot.
    /// </summary>
    public void ResumeAfterNewest()
    {
        long newest = -1;
        for (int slot = 0; slot < records.Length; slot++)
        {
            long word = records[slot].StateWord;
            if (StateOf(word) != ReservationState.Free)
            {
                newest = Math.Max(newest, ((long)SequenceOf(word) * records.Length) + slot);
            }
        }

        cursor = newest + 1;
    }

    public static ReservationState StateOf(long word) => (ReservationState)(byte)word;

    public static uint SequenceOf(long word) => (uint)((ulong)word >> 8);

    private static long Pack(uint sequence, ReservationState state) => ((long)sequence << 8) | (byte)state;

    public ref ReservationRecord this[int slot] => ref records[slot];

    /// <summary>
    /// Claims a free or finished record. Returns -1 when <see cref="EngineLimits.ReservationProbesMax"/> probes found
    /// none. <paramref name="previous"/> is the state word to put back if the reserve is then rejected.
    /// </summary>
    public int TryClaim(out uint sequence, out long previous)
    {
        for (int probe = 0; probe < EngineLimits.ReservationProbesMax; probe++)
        {
            if (blockOwner != this || blockNext == blockEnd)
            {
                blockEnd = Interlocked.Add(ref cursor, BlockSlots);
                blockNext = blockEnd - BlockSlots;
                blockOwner = this;
            }

            int slot = (int)(blockNext++ & mask);
            ref ReservationRecord record = ref records[slot];
            long word = Volatile.Read(ref record.StateWord);
            ReservationState state = StateOf(word);
            if (state is ReservationState.Claimed or ReservationState.Open or ReservationState.Finishing)
            {
                continue;
            }

            sequence = SequenceOf(word) + 1;
            if (sequence == 0)
            {
                sequence = 1; // ids are never 0
            }

            if (Interlocked.CompareExchange(ref record.StateWord, Pack(sequence, ReservationState.Claimed), word) == word)
            {
                previous = word;
                return slot;
            }
        }

        sequence = 0;
        previous = 0;
        return -1;
    }

    /// <summary>Makes a claimed record visible as open (its fields are written).</summary>
    public void Publish(int slot, uint sequence) =>
        Volatile.Write(ref records[slot].StateWord, Pack(sequence, ReservationState.Open));

    /// <summary>
    /// Gives a claimed record back, untouched, after its reserve was rejected: the finished reservation it held
    /// keeps answering repeats, and the table is exactly as if the reserve had never come.
    /// </summary>
    public void Abandon(int slot, long previous) => Volatile.Write(ref records[slot].StateWord, previous);

    /// <summary>
    /// Wins the right to finish <paramref name="id"/>: Open → Finishing. Otherwise reports why not:
    /// NotFound, or the state it already ended in (the caller replies idempotently from the record).
    /// </summary>
    public ReservationState TryBeginFinish(ReservationId id, out int slot)
    {
        slot = id.Slot;
        if ((uint)slot >= (uint)records.Length)
        {
            return ReservationState.Free;
        }

        ref ReservationRecord record = ref records[slot];
        var spin = default(SpinWait);
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long word = Volatile.Read(ref record.StateWord);
            ReservationState state = StateOf(word);
            if (SequenceOf(word) != id.Sequence || state is ReservationState.Free or ReservationState.Claimed)
            {
                return ReservationState.Free;
            }

            if (state == ReservationState.Open)
            {
                if (Interlocked.CompareExchange(ref record.StateWord, Pack(id.Sequence, ReservationState.Finishing), word) == word)
                {
                    return ReservationState.Finishing;
                }

                continue;
            }

            if (state != ReservationState.Finishing)
            {
                return state; // Settled, Refunded or Expired: already ended
            }

            spin.SpinOnce(); // another finisher is applying it; its outcome is moments away
        }

        Invariant.Assert(false, "ReservationTable.TryBeginFinish exceeded its retry bound");
        return ReservationState.Free;
    }

    /// <summary>Claims an open record for expiry if it is due; used by the sweep.</summary>
    public bool TryBeginExpire(int slot, long nowMs, out uint sequence)
    {
        ref ReservationRecord record = ref records[slot];
        long word = Volatile.Read(ref record.StateWord);
        sequence = SequenceOf(word);
        if (StateOf(word) != ReservationState.Open || Volatile.Read(ref record.ExpiresAtMs) > nowMs)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref record.StateWord, Pack(sequence, ReservationState.Finishing), word) == word;
    }

    /// <summary>Ends a record that this caller moved to Finishing.</summary>
    public void Complete(int slot, ReservationState final)
    {
        ref ReservationRecord record = ref records[slot];
        long word = Volatile.Read(ref record.StateWord);
        Invariant.Assert(StateOf(word) == ReservationState.Finishing, "only a finishing record can complete");
        Volatile.Write(ref record.StateWord, Pack(SequenceOf(word), final));
    }

    /// <summary>Writes a record as it was (recovery only, single-threaded).</summary>
    public void Restore(int slot, uint sequence, ReservationState state, in ReservationRecord fields)
    {
        ref ReservationRecord record = ref records[slot];
        record = fields;
        record.StateWord = Pack(sequence, state);
    }

    /// <summary>Ends a replayed reservation (recovery only).</summary>
    public void RestoreState(int slot, ReservationState state)
    {
        ref ReservationRecord record = ref records[slot];
        record.StateWord = Pack(SequenceOf(record.StateWord), state);
    }

    /// <summary>True if the record currently holds an open reservation.</summary>
    public bool IsOpen(int slot) => StateOf(Volatile.Read(ref records[slot].StateWord)) == ReservationState.Open;

    public static ReservationId IdOf(int slot, long word) => ReservationId.From(slot, SequenceOf(word));

    public long StateWordOf(int slot) => Volatile.Read(ref records[slot].StateWord);
}
