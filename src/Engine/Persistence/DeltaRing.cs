using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>
/// The bounded, lock-free, multi-producer single-consumer ring between the request path and the log pump
/// (after Vyukov's bounded queue). A producer claims a position with one CAS, copies its record (a plain struct) in
/// place and publishes it; the single consumer takes records strictly in position order and encodes them (layout and
/// checksum cost the pump, not the request). The position is the record's log sequence number (plus the base the ring
/// was opened with), so log order is claim order. A full ring is reported (<see cref="TryAppend"/> returns false),
/// never waited on silently. Configuration payloads (cold path) travel in a slot array beside the records.
/// </summary>
internal sealed class DeltaRing
{
    private readonly DeltaRecord[] records;
    private readonly byte[]?[] payloads;
    private readonly long[] published;
    private readonly int mask;
    private readonly long baseSequence;
    private long tail;
    private long head;

    /// <param name="capacity">Records the ring holds; a power of two.</param>
    /// <param name="firstSequence">The sequence number of the first record appended.</param>
    public DeltaRing(int capacity, long firstSequence)
    {
        Invariant.Assert(capacity >= 2 && (capacity & (capacity - 1)) == 0, "ring capacity is a power of two");
        records = new DeltaRecord[capacity];
        payloads = new byte[]?[capacity];
        published = new long[capacity];
        for (int i = 0; i < capacity; i++)
        {
            published[i] = i; // slot i is free for position i
        }

        mask = capacity - 1;
        baseSequence = firstSequence;
    }

    public int Capacity => published.Length;

    /// <summary>Records appended but not yet taken by the consumer.</summary>
    public long Count => Volatile.Read(ref tail) - Volatile.Read(ref head);

    /// <summary>The sequence number the next appended record will get, minus one: everything up to it is appended.</summary>
    public long AppendedThrough => baseSequence + Volatile.Read(ref tail) - 1;

    /// <summary>Appends a record; false when the ring is full. Allocation-free without a payload.</summary>
    public bool TryAppend(in DeltaRecord record, byte[]? payload = null)
    {
        long position = Volatile.Read(ref tail);
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            int slot = (int)(position & mask);
            long difference = Volatile.Read(ref published[slot]) - position;
            if (difference == 0)
            {
                long seen = Interlocked.CompareExchange(ref tail, position + 1, position);
                if (seen == position)
                {
                    records[slot] = record;
                    payloads[slot] = payload;
                    Volatile.Write(ref published[slot], position + 1);
                    return true;
                }

                position = seen;
            }
            else if (difference < 0)
            {
                return false; // the consumer has not freed this slot yet: full
            }
            else
            {
                position = Volatile.Read(ref tail);
            }
        }

        Invariant.Assert(false, "DeltaRing.TryAppend exceeded its CAS retry bound");
        return false;
    }

    /// <summary>
    /// Consumer only: encodes up to <paramref name="destination"/>'s worth of the next published records (with their
    /// payloads) and frees their slots. Returns the bytes written and the last sequence taken.
    /// </summary>
    public int Drain(Span<byte> destination, out long lastSequence)
    {
        int written = 0;
        lastSequence = baseSequence + head - 1;
        while (true)
        {
            int slot = (int)(head & mask);
            if (Volatile.Read(ref published[slot]) != head + 1)
            {
                return written; // not yet published
            }

            long sequence = baseSequence + head;
            byte[]? payload = payloads[slot];
            int size = DeltaRecordCodec.SizeOf(payload?.Length ?? 0);
            if (written + size > destination.Length)
            {
                Invariant.Assert(written > 0, "a drain buffer holds at least one record with its payload");
                return written;
            }

            DeltaRecordCodec.Write(destination[written..], records[slot], sequence, payload);
            payloads[slot] = null;

            written += size;
            lastSequence = sequence;
            Volatile.Write(ref published[slot], head + published.Length);
            head++;
        }
    }
}
