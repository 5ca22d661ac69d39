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
    /// <summary>(the id's tag &lt;&lt; 3) | state: one word, so "this id is still this record, and open" is one CAS.</summary>
    public long StateWord;
    public int TokenId;
    public int UserId;
    public long AmountUnits;
    /// <summary>The token estimate held on tokens policies.</summary>
    public long TokenUnits;
    public long ChargedUnits;
    public long ChargedTokens;
    public long ExpiresAtMs;
    /// <summary>Window generation per policy index, 16 bits each.</summary>
    public long Generations;
    /// <summary>The caller's request key (0 = none): the host finds a repeated request id by it, also after a restart.</summary>
    public long RequestKey;
    public byte PolicyMask;
    public bool Exhausted;

    public readonly ushort GenerationOf(int policyIndex) => GenerationIn(Generations, policyIndex);

    public static ushort GenerationIn(long generations, int policyIndex) => (ushort)((ulong)generations >> (policyIndex * 16));
}

/// <summary>
/// A preallocated ring of reservation records (invariant 2: each reservation ends exactly once; invariant 8: an id names
/// one reservation forever). Claiming takes the next position from a cursor (threads take blocks of 64 positions, one
/// shared atomic per block) and the record at position mod capacity, if it is free or finished <b>at an older
/// position</b>: records are recycled strictly in ring order, so a finished reservation's reply stays available until
/// the cursor comes round again — at least <c>capacity</c> positions after the one it was made at (a position is
/// taken by every reserve attempt; a record still open when the cursor comes round is skipped and kept).
/// Every transition is a CAS on the record's state word, which holds the id's tag (epoch and pass) and the state.
/// </summary>
internal sealed class ReservationTable
{
    private const int StateBits = 3;
    private readonly ReservationRecord[] records;
    private readonly int mask;
    private readonly int shift;
    private long cursor;
    private int epoch = 1;

    private const int BlockSlots = 64;

    /// <summary>Slots per expiry group: the sweep skips a whole group while its earliest expiry lies ahead.</summary>
    public const int ExpiryGroupSlots = 64;
    private const int ExpiryGroupShift = 6;

    /// <summary>
    /// Per group of <see cref="ExpiryGroupSlots"/> slots, a lower bound of the expiry of every reservation open in it
    /// (0 at first: unknown, so the first sweep looks at every group). A reserve lowers it before it publishes its record,
    /// a keep-alive only moves an expiry later (the bound stays a bound), and the sweep replaces it by what it found.
    /// </summary>
    private readonly long[] earliestExpiryMs;

    /// <summary>A thread's current block of claim positions: one thread-static, so one TLS lookup per claim.</summary>
    private struct ClaimBlock
    {
        public ReservationTable? Owner;
        public long Next;
        public long End;
    }

    [ThreadStatic]
    private static ClaimBlock block;

    public ReservationTable(int capacity)
    {
        Invariant.Assert(capacity >= BlockSlots && (capacity & (capacity - 1)) == 0, "reservation capacity is a power of two ≥ 64");
        records = new ReservationRecord[capacity];
        earliestExpiryMs = new long[capacity / ExpiryGroupSlots];
        mask = capacity - 1;
        shift = System.Numerics.BitOperations.Log2((uint)capacity);
    }

    public int Capacity => records.Length;

    /// <summary>Where claiming continues (a position; its slot is position mod capacity).</summary>
    public long Cursor => Volatile.Read(ref cursor);

    /// <summary>The epoch of the ids this run issues (during recovery: of the newest run in the log).</summary>
    public int Epoch => epoch;

    /// <summary>Recovery: the log or snapshot names the epoch of a run (single-threaded).</summary>
    public void RecoverEpoch(int runEpoch) => epoch = runEpoch;

    /// <summary>
    /// Before serving (recovery done): ids carry <paramref name="runEpoch"/>, and claims resume right after the newest
    /// record, so finished records keep answering repeats as long as they would have without the restart.
    /// </summary>
    public void StartRun(int runEpoch)
    {
        Invariant.Assert(runEpoch is > 0 and <= ReservationId.EpochMax, "an epoch fits the id's 16 bits");
        epoch = runEpoch;
        long newest = -1;
        for (int slot = 0; slot < records.Length; slot++)
        {
            long word = records[slot].StateWord;
            if (StateOf(word) != ReservationState.Free)
            {
                newest = Math.Max(newest, PositionOf(slot, word));
            }
        }

        cursor = newest + 1;
        block.Owner = null;
    }

    public static ReservationState StateOf(long word) => (ReservationState)(word & ((1 << StateBits) - 1));

    public int SlotOf(ReservationId id) => (int)(id.Position & mask);

    public ReservationId IdOf(int slot, long word) => new((long)(((ulong)word >> StateBits) << shift) | (uint)slot);

    private long PositionOf(int slot, long word) => IdOf(slot, word).Position;

    private long Pack(ReservationId id, ReservationState state) => (long)(((ulong)id.Value >> shift) << StateBits) | (byte)state;

    public ref ReservationRecord this[int slot] => ref records[slot];

    /// <summary>
    /// Claims a free record, or a finished one from an older pass. Returns -1 only after a whole lap of the ring found
    /// every record open (the table is full). <paramref name="previous"/> is the state word to put back if the reserve
    /// is then rejected.
    /// </summary>
    public int TryClaim(out ReservationId id, out long previous)
    {
        ref ClaimBlock mine = ref block;
        for (int probe = 0; probe < records.Length; probe++)
        {
            if (mine.Owner != this || mine.Next >= mine.End)
            {
                mine.End = Interlocked.Add(ref cursor, BlockSlots);
                mine.Next = mine.End - BlockSlots;
                mine.Owner = this;
            }

            long position = mine.Next++;
            int slot = (int)(position & mask);
            ref ReservationRecord record = ref records[slot];
            long word = Volatile.Read(ref record.StateWord);
            ReservationState state = StateOf(word);
            if (state is ReservationState.Claimed or ReservationState.Open or ReservationState.Finishing)
            {
                continue;
            }

            if (state != ReservationState.Free && PositionOf(slot, word) >= (position & ReservationId.PositionMask))
            {
                mine.Next = mine.End; // this thread's block went stale while it was idle: others have lapped it
                continue;
            }

            id = ReservationId.From(epoch, position);
            if (Interlocked.CompareExchange(ref record.StateWord, Pack(id, ReservationState.Claimed), word) == word)
            {
                previous = word;
                return slot;
            }
        }

        id = ReservationId.None;
        previous = 0;
        return -1;
    }

    /// <summary>Makes a claimed record visible as open (its fields are written).</summary>
    public void Publish(int slot, ReservationId id) =>
        Volatile.Write(ref records[slot].StateWord, Pack(id, ReservationState.Open));

    /// <summary>
    /// Gives a claimed record back, untouched, after its reserve was rejected: the finished reservation it held
    /// keeps answering repeats, and the table is exactly as if the reserve had never come.
    /// </summary>
    public void Abandon(int slot, long previous) => Volatile.Write(ref records[slot].StateWord, previous);

    /// <summary>True if the slot's record is this id (in any state).</summary>
    public bool Holds(int slot, ReservationId id, long word) => StateOf(word) != ReservationState.Free && IdOf(slot, word) == id;

    /// <summary>
    /// Wins the right to finish <paramref name="id"/>: Open → Finishing. Otherwise reports why not:
    /// Free (unknown), or the state it already ended in (the caller replies idempotently from the record).
    /// </summary>
    public ReservationState TryBeginFinish(ReservationId id, out int slot)
    {
        slot = SlotOf(id);
        ref ReservationRecord record = ref records[slot];
        var spin = default(SpinWait);
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long word = Volatile.Read(ref record.StateWord);
            ReservationState state = StateOf(word);
            if (!Holds(slot, id, word) || state == ReservationState.Claimed)
            {
                return ReservationState.Free;
            }

            if (state == ReservationState.Open)
            {
                if (Interlocked.CompareExchange(ref record.StateWord, Pack(id, ReservationState.Finishing), word) == word)
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

    public int ExpiryGroups => earliestExpiryMs.Length;

    /// <summary>The first slot of expiry group <paramref name="group"/>.</summary>
    public static int FirstSlotOf(int group) => group << ExpiryGroupShift;

    /// <summary>No reservation open in the group expires before this (a bound, not an exact minimum).</summary>
    public long EarliestExpiryOf(int group) => Volatile.Read(ref earliestExpiryMs[group]);

    /// <summary>
    /// A claimed record will expire at <paramref name="expiresAtMs"/>: lowers its group's bound. Called after the claim and
    /// before the publish, so a sweep that took the bound before this saw the record claimed (see <see cref="TakeEarliestExpiry"/>).
    /// Allocation-free; in the steady state (expiries grow with time) a read and no write.
    /// </summary>
    public void NoteExpiry(int slot, long expiresAtMs) => LowerEarliestExpiry(slot >> ExpiryGroupShift, expiresAtMs);

    /// <summary>
    /// The sweep starts looking into a group: the bound becomes "none" until it is lowered again, by the sweep with what
    /// it found, or by a reserve meanwhile. A reserve that lowered it before this had claimed its record first, so the
    /// sweep, which looks after this, sees that record (claimed, open or ended); one that lowers it after is kept.
    /// </summary>
    public void TakeEarliestExpiry(int group) => Interlocked.Exchange(ref earliestExpiryMs[group], long.MaxValue);

    /// <summary>Lowers the group's bound to <paramref name="expiresAtMs"/> unless it is lower already.</summary>
    public void LowerEarliestExpiry(int group, long expiresAtMs)
    {
        ref long earliest = ref earliestExpiryMs[group];
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long seen = Volatile.Read(ref earliest);
            if (seen <= expiresAtMs || Interlocked.CompareExchange(ref earliest, expiresAtMs, seen) == seen)
            {
                return;
            }
        }

        Invariant.Assert(false, "ReservationTable.LowerEarliestExpiry exceeded its CAS retry bound");
    }

    /// <summary>Claims an open record for expiry if it is due; used by the sweep.</summary>
    public bool TryBeginExpire(int slot, long nowMs, out ReservationId id)
    {
        ref ReservationRecord record = ref records[slot];
        long word = Volatile.Read(ref record.StateWord);
        id = IdOf(slot, word);
        if (StateOf(word) != ReservationState.Open || Volatile.Read(ref record.ExpiresAtMs) > nowMs)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref record.StateWord, Pack(id, ReservationState.Finishing), word) == word;
    }

    /// <summary>Ends a record that this caller moved to Finishing.</summary>
    public void Complete(int slot, ReservationState final)
    {
        ref ReservationRecord record = ref records[slot];
        long word = Volatile.Read(ref record.StateWord);
        Invariant.Assert(StateOf(word) == ReservationState.Finishing, "only a finishing record can complete");
        Volatile.Write(ref record.StateWord, (word & ~((1L << StateBits) - 1)) | (byte)final);
    }

    /// <summary>Gives a record this caller moved to Finishing back as open (a keep-alive changed it meanwhile).</summary>
    public void Reopen(int slot) => Complete(slot, ReservationState.Open);

    /// <summary>Writes a record as it was (recovery only, single-threaded).</summary>
    public void Restore(ReservationId id, ReservationState state, in ReservationRecord fields)
    {
        ref ReservationRecord record = ref records[SlotOf(id)];
        record = fields;
        record.StateWord = Pack(id, state);
    }

    /// <summary>Ends a replayed reservation (recovery only).</summary>
    public void RestoreState(int slot, ReservationState state)
    {
        ref ReservationRecord record = ref records[slot];
        record.StateWord = (record.StateWord & ~((1L << StateBits) - 1)) | (byte)state;
    }

    public long StateWordOf(int slot) => Volatile.Read(ref records[slot].StateWord);

    /// <summary>
    /// The oldest window generation of policy <paramref name="policyIndex"/> of a key that a reservation not yet ended
    /// may hold, counting back from <paramref name="current"/> (cold: scans the table; a record being claimed is at
    /// most moments old, so it holds the current generation).
    /// </summary>
    public ushort OldestHeldGeneration(int tokenId, int policyIndex, ushort current)
    {
        int oldestDistance = 0;
        for (int slot = 0; slot < records.Length; slot++)
        {
            ref ReservationRecord record = ref records[slot];
            ReservationState state = StateOf(Volatile.Read(ref record.StateWord));
            if (state is ReservationState.Open or ReservationState.Finishing &&
                record.TokenId == tokenId && (record.PolicyMask & (1 << policyIndex)) != 0)
            {
                oldestDistance = Math.Max(oldestDistance, (ushort)(current - record.GenerationOf(policyIndex)));
            }
        }

        return (ushort)(current - oldestDistance);
    }
}
