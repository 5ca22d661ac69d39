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
/// Concurrency: reserves of one (key, id) are serialized by a striped lock; different ids never wait on each other
/// beyond a stripe (the engine call inside is a few hundred ns).
/// </summary>
public sealed class RequestIdIndex
{
    /// <summary>Longest request id accepted (characters).</summary>
    public const int RequestIdLengthMax = 128;
    private const int Stripes = 64;

    private readonly ConcurrentDictionary<(int TokenId, long RequestKey), ReservationId> entries = new();
    private readonly object[] stripes = Enumerable.Range(0, Stripes).Select(_ => new object()).ToArray();
    private readonly object sweeping = new();
    private readonly QuotaEngine engine;

    public RequestIdIndex(QuotaEngine engine)
    {
        this.engine = engine;
        EntriesMax = 2 * engine.Options.ReservationsMax;
        foreach (ReservationView view in engine.ReservationsWithRequestKeys())
        {
            entries.TryAdd((view.TokenId, view.RequestKey), view.Id);
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

    /// <summary>What a reserve with a request id found or did.</summary>
    public readonly record struct Outcome(ReserveOutcome Reserve, ReservationView? Earlier, bool Conflict);

    /// <summary>
    /// Returns the reservation this key made earlier with this id (the same amount), a conflict (another amount), or
    /// the result of a new reserve that is then remembered.
    /// </summary>
    public Outcome Reserve(int tokenId, ReserveRequest request, string requestId, long nowMs)
    {
        long amountUnits = request.AmountUnits;
        long requestKey = KeyOf(requestId);
        (int, long) entry = (tokenId, requestKey);
        lock (stripes[(int)((uint)HashCode.Combine(tokenId, requestKey) % Stripes)])
        {
            if (entries.TryGetValue(entry, out ReservationId earlierId) && Live(entry, earlierId, out ReservationView earlier))
            {
                return earlier.AmountUnits == amountUnits ? new(default, earlier, false) : new(default, earlier, true);
            }

            ReserveOutcome reserved = engine.Reserve(tokenId, request with { RequestKey = requestKey }, nowMs);
            if (reserved.IsOk)
            {
                entries[entry] = reserved.Id;
            }
            else
            {
                entries.TryRemove(entry, out _);
            }

            if (entries.Count > EntriesMax)
            {
                Sweep();
            }

            return new(reserved, null, false);
        }
    }

    /// <summary>Forgets (key, request id): its reservation was refunded before it was ever answered as reserved.</summary>
    public void Forget(int tokenId, string requestId) => entries.TryRemove((tokenId, KeyOf(requestId)), out _);

    /// <summary>Drops entries whose reservation record was recycled (cold: the janitor, or the index at its bound).</summary>
    public void Sweep()
    {
        lock (sweeping)
        {
            foreach (KeyValuePair<(int TokenId, long RequestKey), ReservationId> pair in entries)
            {
                if (!Live(pair.Key, pair.Value, out _))
                {
                    entries.TryRemove(pair);
                }
            }
        }
    }

    private bool Live((int TokenId, long RequestKey) entry, ReservationId id, out ReservationView view) =>
        engine.TryReadReservation(id, out view) && view.TokenId == entry.TokenId && view.RequestKey == entry.RequestKey;
}
