using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Quota.Engine;
using Quota.Engine.Model;

namespace Quota.Host.Quota;

/// <summary>
/// Idempotent reserve by request id, scoped to the key: (key, request id) names at most one reservation, whatever the
/// concurrency, also across restarts. The id is kept as a 64-bit hash (its "request key"), which the engine stores in
/// the reservation and in its Reserve log record; at start the index is rebuilt from the engine's reservations that
/// carry one. An entry lives as long as its reservation record is readable in the engine's table (open, or finished
/// until about <c>Quota:ReservationsMax</c> newer reservations reused the slot); the index holds at most
/// <see cref="EntriesMax"/> entries (stale ones are swept when it reaches that bound, and by the janitor).
/// <para>A retry is answered like the first attempt, never before it: while the first attempt is still being admitted
/// (a cluster lease) a retry waits for its outcome (<see cref="Entry.Answered"/>) and then looks again — it finds the
/// reservation, or, if that attempt was refused, makes its own; and the caller acknowledges (durability) before it
/// answers a retry, as it does the first attempt.</para>
/// Concurrency: reserves of one (key, id) are serialized by a striped lock; different ids never wait on each other
/// beyond a stripe (the engine call inside is a few hundred ns).
/// </summary>
public sealed class RequestIdIndex
{
    /// <summary>Longest request id accepted (characters).</summary>
    public const int RequestIdLengthMax = 128;
    private const int Stripes = 64;

    private readonly ConcurrentDictionary<(int TokenId, long RequestKey), Entry> entries = new();
    private readonly object[] stripes = Enumerable.Range(0, Stripes).Select(_ => new object()).ToArray();
    private readonly object sweeping = new();
    private readonly QuotaEngine engine;

    public RequestIdIndex(QuotaEngine engine)
    {
        this.engine = engine;
        EntriesMax = 2 * engine.Options.ReservationsMax;
        foreach (ReservationView view in engine.ReservationsWithRequestKeys())
        {
            entries.TryAdd((view.TokenId, view.RequestKey), new Entry((view.TokenId, view.RequestKey), view.Id, answered: true));
        }
    }

    /// <summary>Twice the reservation table: every live entry names a distinct record, and sweeps are amortized.</summary>
    public int EntriesMax { get; }

    public int Count => entries.Count;

    /// <summary>The request key of <paramref name="requestId"/>: the first 8 bytes of its SHA-256, never 0 (0 means "none").</summary>
    public static long KeyOf(string requestId)
    {
        // Request ids are at most RequestIdLengthMax characters (the API checks): their UTF-8 bytes fit on the stack.
        Span<byte> utf8 = requestId.Length <= RequestIdLengthMax
            ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(RequestIdLengthMax)]
            : new byte[Encoding.UTF8.GetMaxByteCount(requestId.Length)];
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(requestId, utf8)], digest);
        long key = BitConverter.ToInt64(digest);
        return key == 0 ? 1 : key;
    }

    /// <summary>
    /// One (key, request id) and its reservation. A new reserve's entry is unanswered until its caller calls
    /// <see cref="Answer"/>: retries wait for that, so they never answer with a reservation its own attempt may still refund.
    /// </summary>
    public sealed class Entry
    {
        private readonly TaskCompletionSource answered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Entry((int TokenId, long RequestKey) key, ReservationId id, bool answered)
        {
            Key = key;
            Id = id;
            if (answered)
            {
                this.answered.SetResult();
            }
        }

        internal (int TokenId, long RequestKey) Key { get; }

        public ReservationId Id { get; }

        /// <summary>Completes when the attempt that made the reservation knows whether it keeps it.</summary>
        public Task Answered => answered.Task;

        internal void Complete() => answered.TrySetResult();
    }

    /// <summary>
    /// What a reserve with a request id found or did: the reservation this key made earlier with this id (or a
    /// conflict: another amount), or a new reserve's outcome and, when it reserved, the <see cref="Attempt"/> its caller
    /// must <see cref="Answer"/>.
    /// </summary>
    public readonly record struct Outcome(ReserveOutcome Reserve, ReservationView? Earlier, bool Conflict, Entry? Attempt = null);

    /// <summary>
    /// Reserves with a request id; a retry that finds the first attempt still unanswered waits for it (bounded by
    /// <paramref name="cancellationToken"/>), then looks again.
    /// </summary>
    public async ValueTask<Outcome> ReserveAsync(int tokenId, ReserveRequest request, string requestId, Func<long> nowMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nowMs);
        while (true)
        {
            (Outcome outcome, Task? firstAttempt) = TryReserve(tokenId, request, requestId, nowMs());
            if (firstAttempt is null)
            {
                return outcome;
            }

            await firstAttempt.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reserves with a request id, without waiting: the returned task is set (and the outcome empty) when an earlier
    /// attempt with this id is not answered yet.
    /// </summary>
    private (Outcome Outcome, Task? FirstAttempt) TryReserve(int tokenId, ReserveRequest request, string requestId, long nowMs)
    {
        long amountUnits = request.AmountUnits;
        long requestKey = KeyOf(requestId);
        (int, long) key = (tokenId, requestKey);
        lock (stripes[(int)((uint)HashCode.Combine(tokenId, requestKey) % Stripes)])
        {
            if (entries.TryGetValue(key, out Entry? earlierEntry))
            {
                if (!earlierEntry.Answered.IsCompleted)
                {
                    return (default, earlierEntry.Answered);
                }

                if (Live(key, earlierEntry.Id, out ReservationView earlier))
                {
                    return (new(default, earlier, earlier.AmountUnits != amountUnits), null);
                }
            }

            ReserveOutcome reserved = engine.Reserve(tokenId, request with { RequestKey = requestKey }, nowMs);
            Entry? attempt = null;
            if (reserved.IsOk)
            {
                entries[key] = attempt = new Entry(key, reserved.Id, answered: false);
            }
            else
            {
                entries.TryRemove(key, out _);
            }

            if (entries.Count > EntriesMax)
            {
                Sweep();
            }

            return (new(reserved, null, false, attempt), null);
        }
    }

    /// <summary>
    /// The attempt that made <paramref name="attempt"/>'s reservation knows its outcome: <paramref name="held"/> false
    /// when that reservation was refunded before it was ever answered as reserved (a cluster lease refused it), so the id
    /// is forgotten and a waiting retry reserves anew. Then the waiting retries go on.
    /// </summary>
    public void Answer(Entry attempt, bool held)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        if (!held)
        {
            entries.TryRemove(new KeyValuePair<(int, long), Entry>(attempt.Key, attempt));
        }

        attempt.Complete();
    }

    /// <summary>Drops entries whose reservation record was recycled (cold: the janitor, or the index at its bound).</summary>
    public void Sweep()
    {
        lock (sweeping)
        {
            foreach (KeyValuePair<(int TokenId, long RequestKey), Entry> pair in entries)
            {
                if (pair.Value.Answered.IsCompleted && !Live(pair.Key, pair.Value.Id, out _))
                {
                    entries.TryRemove(pair);
                }
            }
        }
    }

    private bool Live((int TokenId, long RequestKey) entry, ReservationId id, out ReservationView view) =>
        engine.TryReadReservation(id, out view) && view.TokenId == entry.TokenId && view.RequestKey == entry.RequestKey;
}
