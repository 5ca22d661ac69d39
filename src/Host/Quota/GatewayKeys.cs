using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Quota;

/// <summary>
/// Who may call the quota API (docs/api.md "Gateway keys"): the admin key, or a gateway key, which is good for
/// <c>/api/quota/*</c> only, so a gateway never holds the admin's power. Gateway keys are stored as SHA-256 hashes in the
/// node's LiteDB and indexed here by hash. A reservation a gateway key made can be settled or refunded only with that
/// key (or the admin key, which can finish any). Which key made a reservation is kept in memory: after a restart the
/// reservations made before it can be finished by the admin key only (or they expire, settled at their estimate).
/// Like <see cref="BearerSecret"/>, Authorization header strings that passed are remembered by identity, so a
/// keep-alive connection's calls after its first are not hashed again; a deleted key's strings stop passing at once.
/// </summary>
public sealed class GatewayKeys
{
    /// <summary>The caller id of the admin key; gateway keys have their own ids, from 1.</summary>
    public const int Admin = 0;
    private const int SweepEveryOwned = 1 << 16;

    private readonly QuotaRuntime runtime;
    private readonly ConcurrentDictionary<string, int> idsByHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, string> hashesById = new();
    private readonly ConditionalWeakTable<string, StrongBox<int>> passed = new();
    private readonly ConcurrentDictionary<ReservationId, int> owners = new();
    private int ownedSinceSweep;
    private volatile bool anyOwned; // the admin-only path never touches the owners' map (its emptiness check takes every lock)

    public GatewayKeys(QuotaRuntime runtime)
    {
        this.runtime = runtime;
        foreach (GatewayKeyDocument key in runtime.Store.AllGatewayKeys())
        {
            Index(key);
        }
    }

    /// <summary>The caller: <see cref="Admin"/>, a gateway key's id, or null when the bearer is neither.</summary>
    public int? Caller(HttpRequest request)
    {
        if (runtime.IsAdmin(request))
        {
            return Admin;
        }

        if (request.Headers.Authorization.ToString() is not { Length: > 0 } header)
        {
            return null;
        }

        if (passed.TryGetValue(header, out StrongBox<int>? known))
        {
            return hashesById.ContainsKey(known.Value) ? known.Value : null;
        }

        if (ApiKeys.BearerToken(request) is not { } key || !idsByHash.TryGetValue(ApiKeys.Hash(key), out int id))
        {
            return null;
        }

        passed.AddOrUpdate(header, new StrongBox<int>(id));
        return id;
    }

    /// <summary>Creates a gateway key; returns its label and the key, which is shown only now.</summary>
    internal (GatewayKeyDocument Label, string Key) Create(string name)
    {
        string key = ApiKeys.NewKey("sk-gw-");
        var label = new GatewayKeyDocument { Name = name, KeyHash = ApiKeys.Hash(key), KeyPreview = ApiKeys.Preview(key), CreatedMs = runtime.NowMs };
        label.Id = runtime.Store.InsertGatewayKey(label);
        Index(label);
        return (label, key);
    }

    internal IReadOnlyList<GatewayKeyDocument> All() => runtime.Store.AllGatewayKeys().OrderBy(k => k.Id).ToList();

    /// <summary>Deletes a gateway key: it stops working at once; its open reservations stay for the admin key to finish, or to expire.</summary>
    public bool Delete(int id)
    {
        if (!runtime.Store.DeleteGatewayKey(id))
        {
            return false;
        }

        if (hashesById.TryRemove(id, out string? hash))
        {
            idsByHash.TryRemove(hash, out _);
        }

        return true;
    }

    /// <summary>Remembers that gateway key <paramref name="caller"/> made reservation <paramref name="id"/>.</summary>
    public void Own(ReservationId id, int caller)
    {
        if (caller == Admin)
        {
            return;
        }

        anyOwned = true;
        owners[id] = caller;
        if (Interlocked.Increment(ref ownedSinceSweep) % SweepEveryOwned == 0)
        {
            SweepFinished();
        }
    }

    /// <summary>Whether <paramref name="caller"/> may settle or refund reservation <paramref name="id"/>.</summary>
    public bool MayFinish(ReservationId id, int caller) =>
        caller == Admin || (owners.TryGetValue(id, out int owner) && owner == caller);

    /// <summary>Forgets the maker of a reservation that was settled or refunded.</summary>
    public void Finished(ReservationId id)
    {
        if (anyOwned)
        {
            owners.TryRemove(id, out _);
        }
    }

    private void Index(GatewayKeyDocument key)
    {
        idsByHash[key.KeyHash] = key.Id;
        hashesById[key.Id] = key.KeyHash;
    }

    /// <summary>Drops the makers of reservations that expired (cold: every <see cref="SweepEveryOwned"/> reservations).</summary>
    private void SweepFinished()
    {
        foreach (KeyValuePair<ReservationId, int> owner in owners)
        {
            if (!runtime.Engine.TryReadReservation(owner.Key, out ReservationView view) || view.Status != ReservationStatus.Open)
            {
                owners.TryRemove(owner);
            }
        }
    }
}
