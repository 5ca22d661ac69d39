using System.Collections.Concurrent;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// Cluster admission: after the local engine reserved a request (its bookkeeping), the gate holds the same estimate on
/// this node's lease of every account the request spends — the wallet, the key budget, each policy window that applies
/// to its model, each in its metric — all or none. A lease that runs short is refilled by one grant from the store
/// (sized from recent demand, shrinking with the headroom; near exhaustion, exactly what the request needs).
/// The settle, refund or expiry of the reservation gives the unused part back to the lease (<see cref="Finish"/>).
/// <para>Nothing is admitted while <paramref name="serving"/> says the store is not the one this node knows; a guarded
/// script that finds so calls <paramref name="epochLost"/> (docs/cluster.md "Store data loss").</para>
/// </summary>
internal sealed class LeaseGate(QuotaRuntime runtime, ClusterStore store, ClusterConfig config, ClusterOptions options, Func<bool> serving, Action epochLost)
{
    private readonly ConcurrentDictionary<string, LeaseCell> cells = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ReservationId, Hold[]> holds = new();
    // Keys whose usage moved by a finish since the last sweep, and keys with open reservations a restart or rebuild
    // recovered (their finishes are not seen here): what the sweep reads, instead of every key.
    private readonly ConcurrentDictionary<int, byte> moved = new();
    private readonly ConcurrentDictionary<int, byte> recovered = new();
    private readonly FailOpenBudget failOpen = new(options.FailOpenUnits);
    private readonly TimeSpan lease = TimeSpan.FromSeconds(options.LeaseSeconds);
    // A lease here ends a third of its life before the store's: the store never counts a lease this node still spends.
    private readonly long leaseLocalMs = options.LeaseSeconds * 2000L / 3;

    private readonly record struct Hold(LeaseCell Cell, long Amount, int Epoch, int TokenId);

    internal ICollection<LeaseCell> Cells => cells.Values;

    internal ICollection<ReservationId> OpenHolds => holds.Keys;

    public LeaseCell? Cell(string account) => cells.TryGetValue(account, out LeaseCell? cell) ? cell : null;

    /// <summary>
    /// Holds a reservation the engine made on every account it spends. On a refusal nothing stays held here; the caller
    /// refunds the engine's reservation.
    /// </summary>
    public async Task<GateVerdict> HoldAsync(int tokenId, ReserveRequest request, ReservationId id)
    {
        if (!serving())
        {
            return GateVerdict.StoreUnavailable; // the store lost its data (or is being rebuilt): admit nothing
        }

        TokenDocumentInStore? doc = config.Token(tokenId);
        TokenView? view = runtime.Engine.ReadToken(tokenId, runtime.NowMs);
        if (doc is null || view is null)
        {
            return GateVerdict.Refused(ReserveResult.KeyNotFound, -1);
        }

        List<(AccountRef Account, long Amount)> accounts = AccountsOf(doc, view, request);
        var taken = new List<Hold>(accounts.Count);
        foreach ((AccountRef account, long amount) in accounts)
        {
            LeaseCell cell = cells.GetOrAdd(account.Key, static (_, a) => new LeaseCell(a), account);
            GateVerdict verdict = await TakeAsync(cell, amount).ConfigureAwait(false);
            if (verdict.Unavailable && serving() && failOpen.TryTake(account, amount)) // unreachable, not lost: a lost store never fails open
            {
                Interlocked.Increment(ref cell.InFlight);
                taken.Add(new Hold(cell, amount, FailOpenBudget.Epoch, tokenId)); // held on no lease: gives nothing back to one
                continue;
            }

            if (!verdict.IsOk)
            {
                foreach (Hold hold in taken)
                {
                    Release(hold, hold.Amount);
                }

                return verdict;
            }

            Interlocked.Increment(ref cell.InFlight);
            taken.Add(new Hold(cell, amount, Volatile.Read(ref cell.Epoch), tokenId));
        }

        holds[id] = [.. taken];
        return GateVerdict.Ok;
    }

    /// <summary>
    /// The reservation ended (settled with <paramref name="chargedUnits"/> and <paramref name="chargedTokens"/> (-1: the
    /// estimate), refunded with 0, or expired at its estimate): each lease gets back what was held and not charged.
    /// </summary>
    public void Finish(ReservationId id, long chargedUnits, long chargedTokens, bool refunded)
    {
        if (!holds.TryRemove(id, out Hold[]? taken))
        {
            return;
        }

        foreach (Hold hold in taken)
        {
            long charged = refunded ? 0 : hold.Cell.Account.Metric switch
            {
                PolicyMetric.Tokens when hold.Cell.Account.Kind == AccountKind.Window => chargedTokens < 0 ? hold.Amount : chargedTokens,
                PolicyMetric.Requests when hold.Cell.Account.Kind == AccountKind.Window => hold.Amount,
                _ => chargedUnits,
            };
            Release(hold, hold.Amount - charged);
            Interlocked.Exchange(ref hold.Cell.Dirty, 1);
            moved.TryAdd(hold.TokenId, 0);
        }
    }

    /// <summary>
    /// The keys the next sweep reads: those a finish moved since the last call, and those with recovered open reservations
    /// (<paramref name="stillOpen"/> says whether a key still has any; one that has none is swept once more, then dropped).
    /// </summary>
    internal List<int> TakeMoved(Func<int, bool> stillOpen)
    {
        var keys = new List<int>();
        foreach (int tokenId in moved.Keys)
        {
            moved.TryRemove(tokenId, out _);
            keys.Add(tokenId);
        }

        foreach (int tokenId in recovered.Keys)
        {
            keys.Add(tokenId);
            if (!stillOpen(tokenId))
            {
                recovered.TryRemove(tokenId, out _);
            }
        }

        return keys;
    }

    /// <summary>A key with open reservations this gate holds nothing for (recovered at a restart, or held before a rebuild): swept until they end.</summary>
    internal void Recovered(int tokenId) => recovered.TryAdd(tokenId, 0);

    /// <summary>The store is not the one this node knows: every lease here is void (holds of it give nothing back to a later one).</summary>
    internal void DropLeases()
    {
        foreach (LeaseCell cell in cells.Values)
        {
            Interlocked.Increment(ref cell.Epoch);
            Interlocked.Exchange(ref cell.Available, 0);
            Volatile.Write(ref cell.LeaseUntilTicks, 0);
            Volatile.Write(ref cell.RecoveredHeld, 0);
        }
    }

    /// <summary>
    /// After a restart or a rebuild, the store leases this node exactly <paramref name="held"/> on the account: what the
    /// reservations open here hold (recovered from the log, or held across the rebuild; their finishes give nothing back to
    /// this lease). The lease is kept until none of them is open (<see cref="EndRecovered"/>); then, idle, the whole lease
    /// is released (<see cref="GiveBackIdleAsync"/>), their unused part with it.
    /// </summary>
    internal void Adopt(AccountRef account, long held)
    {
        LeaseCell cell = cells.GetOrAdd(account.Key, static (_, a) => new LeaseCell(a), account);
        Interlocked.Increment(ref cell.Epoch); // holds from before give nothing back: all they held is in RecoveredHeld
        Volatile.Write(ref cell.RecoveredHeld, held);
        Volatile.Write(ref cell.LeaseUntilTicks, Environment.TickCount64 + leaseLocalMs);
        Volatile.Write(ref cell.LastUsedTicks, Environment.TickCount64);
    }

    /// <summary>
    /// The adopted reservations have all ended once the engine holds nothing on the account (<paramref name="reserved"/>,
    /// read after no hold of the gate's was seen in flight): from then on the cell's lease is an ordinary one.
    /// </summary>
    internal static void EndRecovered(LeaseCell cell, Func<long> reserved)
    {
        if (Volatile.Read(ref cell.RecoveredHeld) > 0 && Volatile.Read(ref cell.InFlight) == 0 && reserved() == 0)
        {
            Volatile.Write(ref cell.RecoveredHeld, 0);
        }
    }

    /// <summary>Finishes holds whose reservation the engine ended without this gate hearing of it (expiry, or a settle elsewhere).</summary>
    internal void FinishEndedReservations()
    {
        foreach (ReservationId id in holds.Keys)
        {
            if (!runtime.Engine.TryReadReservation(id, out ReservationView view))
            {
                Finish(id, 0, -1, refunded: false); // recycled: long gone; count it spent (never gives back more than was held)
            }
            else if (view.Status != ReservationStatus.Open)
            {
                Finish(id, view.ChargedUnits, -1, refunded: view.Status == ReservationStatus.Refunded);
            }
        }
    }

    private static void Release(Hold hold, long units)
    {
        Interlocked.Decrement(ref hold.Cell.InFlight);
        if (units != 0 && hold.Epoch == Volatile.Read(ref hold.Cell.Epoch))
        {
            Interlocked.Add(ref hold.Cell.Available, units);
        }
    }

    private async Task<GateVerdict> TakeAsync(LeaseCell cell, long amount)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long now = Environment.TickCount64;
            if (cell.TryTake(amount, now))
            {
                return GateVerdict.Ok;
            }

            if (cell.Paused)
            {
                return Refusal(cell, paused: true);
            }

            await cell.Refill.WaitAsync().ConfigureAwait(false);
            try
            {
                if (cell.TryTake(amount, Environment.TickCount64))
                {
                    return GateVerdict.Ok;
                }

                GrantReply reply;
                try
                {
                    reply = await GrantAsync(cell, amount).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is StackExchange.Redis.RedisException or TimeoutException)
                {
                    if (ClusterStore.IsEpochError(exception))
                    {
                        epochLost();
                    }

                    return GateVerdict.StoreUnavailable;
                }

                if (reply.Paused)
                {
                    cell.Paused = true;
                    return Refusal(cell, paused: true);
                }

                if (reply.Granted == 0)
                {
                    return Refusal(cell, paused: false);
                }
            }
            finally
            {
                cell.Refill.Release();
            }
        }

        return Refusal(cell, paused: false); // others took each grant first: as good as exhausted right now
    }

    private async Task<GrantReply> GrantAsync(LeaseCell cell, long amount)
    {
        long sent = Environment.TickCount64;
        Volatile.Write(ref cell.GrantSentTicks, sent);
        if (!cell.LeaseValid(sent))
        {
            await LapseAsync(cell).ConfigureAwait(false);
        }

        long available = Volatile.Read(ref cell.Available);
        // Strict: the rest of the estimate (a window with nothing left admits nothing, not even 0). Graceful: one unit more
        // than this node's crossing took beyond its lease, so the store counts that crossing before it grants again: a
        // node crosses a graceful quota at most once.
        long need = cell.Account.Graceful ? 1 + Math.Max(0, -available) : Math.Max(1, amount - Math.Max(0, available));
        long demandMs = Math.Max(1, sent - Volatile.Read(ref cell.DemandSinceTicks));
        long demand = Interlocked.Exchange(ref cell.DemandUnits, 0) * options.LeaseDemandMs / demandMs;
        long want = Math.Max(need, Math.Max(demand, amount * 4));
        AccountRef a = cell.Account;
        GrantReply reply = await store.GrantAsync(a.Key, need, want, a.Quota, lease, ExpireAt(a), a.Graceful).ConfigureAwait(false);
        Volatile.Write(ref cell.DemandSinceTicks, sent);
        Volatile.Write(ref cell.StoreUsed, reply.Used);
        if (reply.Granted > 0)
        {
            Interlocked.Add(ref cell.Available, reply.Granted);
            Volatile.Write(ref cell.LeaseUntilTicks, sent + leaseLocalMs);
        }

        return reply;
    }

    /// <summary>The lease ran out of time here: what was left of it is dropped here and given back to the store.</summary>
    internal async Task LapseAsync(LeaseCell cell)
    {
        Interlocked.Increment(ref cell.Epoch);
        Volatile.Write(ref cell.RecoveredHeld, 0); // gone with the store's lease
        long left = Interlocked.Exchange(ref cell.Available, 0);
        if (left > 0)
        {
            await store.GiveBackAsync(cell.Account.Key, left).ConfigureAwait(false);
        }
    }

    /// <summary>Gives an idle lease back to the store, so other nodes can have its headroom.</summary>
    /// <remarks>
    /// With no hold open here (and no recovered reservation), the store's whole lease of this node on the account is
    /// released, not only what this node counts as left: a grant the store applied but whose answer never arrived (a
    /// timeout under load) would otherwise stay leased, renewed by every report, and refuse the last units of a strict
    /// window on every node. Done under the refill lock, so no grant crosses it; the lease's epoch moves first, so a hold
    /// finishing meanwhile gives nothing back to a lease that is gone.
    /// </remarks>
    internal async Task GiveBackIdleAsync(LeaseCell cell)
    {
        if (!await cell.Refill.WaitAsync(0).ConfigureAwait(false))
        {
            return; // a grant is under way: the account is not idle after all
        }

        try
        {
            long left = Interlocked.Exchange(ref cell.Available, 0);
            Interlocked.Increment(ref cell.Epoch);
            if (Volatile.Read(ref cell.InFlight) == 0 && Volatile.Read(ref cell.RecoveredHeld) == 0)
            {
                if (left > 0 || Interlocked.Exchange(ref cell.StoreLease, 0) > 0)
                {
                    await store.ReleaseLeaseAsync(cell.Account.Key).ConfigureAwait(false);
                }
            }
            else if (left > 0)
            {
                await store.GiveBackAsync(cell.Account.Key, left).ConfigureAwait(false);
            }
        }
        finally
        {
            cell.Refill.Release();
        }
    }

    /// <summary>A report renewed the lease: it lives on here too (from when the report was sent).</summary>
    internal void Renewed(LeaseCell cell, long sentTicks, ReportReply reply)
    {
        Volatile.Write(ref cell.StoreUsed, reply.Used);
        cell.Paused = reply.Paused;
        Volatile.Write(ref cell.StoreLease, reply.Lease);
        if (reply.Lease > 0)
        {
            Volatile.Write(ref cell.LeaseUntilTicks, Math.Max(Volatile.Read(ref cell.LeaseUntilTicks), sentTicks + leaseLocalMs));
        }
        else if (Volatile.Read(ref cell.Available) > 0 && Volatile.Read(ref cell.GrantSentTicks) < sentTicks)
        {
            // The store let this lease lapse (no report reached it in time): nothing of it may be spent any more.
            Interlocked.Increment(ref cell.Epoch);
            Volatile.Write(ref cell.RecoveredHeld, 0);
            Interlocked.Exchange(ref cell.Available, 0);
        }
    }

    internal bool Forget(LeaseCell cell) => cells.TryRemove(new KeyValuePair<string, LeaseCell>(cell.Account.Key, cell));

    internal static long ExpireAt(AccountRef account) => account.Kind == AccountKind.Window ? account.WindowEndMs + 86_400_000 : 0;

    private static GateVerdict Refusal(LeaseCell cell, bool paused)
    {
        AccountRef a = cell.Account;
        return a.Kind switch
        {
            AccountKind.Wallet => GateVerdict.Refused(ReserveResult.InsufficientUserQuota, -1),
            AccountKind.Budget => GateVerdict.Refused(ReserveResult.InsufficientKeyQuota, -1),
            _ when paused => GateVerdict.Refused(ReserveResult.KeyPaused, a.PolicyIndex),
            _ when !a.Graceful && Volatile.Read(ref cell.StoreUsed) < a.Quota => GateVerdict.Refused(ReserveResult.PolicyEstimateTooLarge, a.PolicyIndex),
            _ => GateVerdict.Refused(ReserveResult.PolicyExhausted, a.PolicyIndex),
        };
    }

    /// <summary>The accounts a request spends, each with its amount in the account's metric, as the engine reserves them.</summary>
    private List<(AccountRef, long)> AccountsOf(TokenDocumentInStore doc, TokenView view, ReserveRequest request)
    {
        var accounts = new List<(AccountRef, long)>(2 + doc.Policies.Length) { (AccountRef.Wallet(store, doc), request.AmountUnits) };
        if (!doc.Unlimited)
        {
            accounts.Add((AccountRef.Budget(store, doc), request.AmountUnits));
        }

        foreach (PolicyView window in view.Policies)
        {
            if (AccountRef.Window(store, doc, window) is { } account && doc.Policies[window.Index].AppliesTo(request.Model))
            {
                accounts.Add((account, account.Metric switch
                {
                    PolicyMetric.Tokens => request.Tokens,
                    PolicyMetric.Requests => 1,
                    _ => request.AmountUnits,
                }));
            }
        }

        return accounts;
    }
}

/// <summary>What the gate decided: admitted, refused by an account (as the engine would say it), or the store is out of reach.</summary>
public readonly record struct GateVerdict(bool IsOk, ReserveResult Result, int PolicyIndex, bool Unavailable)
{
    public static GateVerdict Ok => new(true, ReserveResult.Ok, -1, false);

    public static GateVerdict StoreUnavailable => new(false, ReserveResult.Ok, -1, true);

    public static GateVerdict Refused(ReserveResult result, int policyIndex) => new(false, result, policyIndex, false);
}
