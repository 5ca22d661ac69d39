using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Quota.Engine.Model;

namespace Quota.Benchmarks;

/// <summary>
/// The peer a competent team would write first, with the engine's rules: one wallet shared by a user's keys, a key
/// budget, up to 4 policy windows per key (quota / tokens / requests metrics, strict or graceful, rolled over when due,
/// a hold released only in the window it was taken in), reservation ids with idempotent settle/refund replies kept for
/// a bounded horizon, and expiry (a TTL per reservation, a sweep that settles overdue ones at their estimate).
/// Keys and users live in ConcurrentDictionaries; everything about one user (its wallet, its keys' accounts, its
/// reservations) changes under that user's lock — the only lock that makes "wallet, budget and every window, all or
/// nothing" atomic, so two threads on keys of one user serialise on it. Steady state allocates nothing: reservations
/// are structs in a per-user Dictionary sized up front, and finished ones are evicted oldest first.
/// Left out (not on the measured path): model scope, disable_token pauses, calendar-aware (DST) window lengths.
/// </summary>
public sealed class LockedQuota
{
    private const int PolicyBits = 16;
    private const int UserShift = 40; // reservation id = user id << 40 | per-user sequence

    private sealed class User(int id, long wallet, int retained, int openMax)
    {
        public readonly Lock Gate = new();
        public readonly int Id = id;
        public long Wallet = wallet, WalletReserved;
        public long NextSequence;
        public int Open;
        public readonly Dictionary<long, Reservation> Reservations = new(retained + openMax);
        public readonly long[] Finished = new long[retained]; // ring of finished ids, oldest evicted first
        public long FinishedCount;
    }

    private sealed class Key(int id, User user, long budget, Window[] windows)
    {
        public readonly int Id = id;
        public readonly User User = user;
        public long Budget = budget, BudgetReserved;
        public bool Enabled = true;
        public long ExpiresAtMs = -1;
        public readonly Window[] Windows = windows;
    }

    private sealed class Window(long quota, bool strict, PolicyMetric metric, long lengthMs, long startMs)
    {
        public readonly long Quota = quota, LengthMs = lengthMs;
        public readonly bool Strict = strict;
        public readonly PolicyMetric Metric = metric;
        public long EndMs = startMs + lengthMs, Used, Reserved;
        public ushort Generation;

        public long InMetric(long units, long tokens) => Metric switch
        {
            PolicyMetric.Quota => units,
            PolicyMetric.Tokens => tokens,
            _ => 1,
        };
    }

    private struct Reservation
    {
        public Key Key;
        public long Amount, Tokens, Charged, ChargedTokens, ExpiresAtMs, Generations;
        public ReservationStatus Status;
        public bool Exhausted;
    }

    /// <summary>A policy of the peer: limit per window, in its metric.</summary>
    public readonly record struct Policy(long Quota, bool Strict = false, PolicyMetric Metric = PolicyMetric.Quota, long LengthMs = 86_400_000);

    private readonly ConcurrentDictionary<int, Key> keys = new();
    private readonly ConcurrentDictionary<int, User> users = new();
    private readonly int retained, openMax;
    private readonly long ttlMs;

    /// <param name="retained">Finished reservations per user kept for idempotent replies (the engine: its table size).</param>
    /// <param name="openMax">Open reservations per user (the engine: its table size).</param>
    public LockedQuota(int retained = 1 << 12, int openMax = 1 << 12, long ttlMs = 600_000)
    {
        this.retained = retained;
        this.openMax = openMax;
        this.ttlMs = ttlMs;
    }

    public void AddUser(int user, long wallet) => users[user] = new User(user, wallet, retained, openMax);

    public void AddKey(int key, int user, long budget, long nowMs, params Policy[] policies)
    {
        var windows = new Window[policies.Length];
        for (int i = 0; i < policies.Length; i++)
        {
            Policy p = policies[i];
            windows[i] = new Window(p.Quota, p.Strict, p.Metric, p.LengthMs, nowMs);
        }

        keys[key] = new Key(key, users[user], budget, windows);
    }

    /// <summary>Reserves on the wallet, the key budget and every policy, all or nothing; the id is 0 on a refusal.</summary>
    public ReserveResult Reserve(int keyId, long amount, long tokens, long nowMs, out long id)
    {
        id = 0;
        if (amount <= 0 || tokens < 0)
        {
            return ReserveResult.InvalidAmount;
        }

        if (!keys.TryGetValue(keyId, out Key? key))
        {
            return ReserveResult.KeyNotFound;
        }

        User user = key.User;
        lock (user.Gate)
        {
            if (!key.Enabled)
            {
                return ReserveResult.KeyDisabled;
            }

            if (key.ExpiresAtMs != -1 && nowMs >= key.ExpiresAtMs)
            {
                return ReserveResult.KeyExpired;
            }

            if (user.Open >= openMax)
            {
                return ReserveResult.TooManyOpenReservations;
            }

            if (amount > user.Wallet - user.WalletReserved)
            {
                return ReserveResult.InsufficientUserQuota;
            }

            if (amount > key.Budget - key.BudgetReserved)
            {
                return ReserveResult.InsufficientKeyQuota;
            }

            Window[] windows = key.Windows;
            long generations = 0;
            for (int i = 0; i < windows.Length; i++) // checked first, held after: under the lock nothing needs giving back
            {
                Window w = windows[i];
                if (nowMs >= w.EndMs)
                {
                    long lapsed = (nowMs - w.EndMs) / w.LengthMs + 1;
                    w.EndMs += lapsed * w.LengthMs;
                    w.Used = w.Reserved = 0;
                    w.Generation++;
                }

                long room = w.Quota - w.Used - w.Reserved;
                if (room <= 0)
                {
                    return ReserveResult.PolicyExhausted;
                }

                if (w.Strict && w.InMetric(amount, tokens) > room)
                {
                    return ReserveResult.PolicyEstimateTooLarge;
                }

                generations |= (long)w.Generation << (i * PolicyBits);
            }

            user.WalletReserved += amount;
            key.BudgetReserved += amount;
            for (int i = 0; i < windows.Length; i++)
            {
                windows[i].Reserved += windows[i].InMetric(amount, tokens);
            }

            id = ((long)user.Id << UserShift) | ++user.NextSequence;
            user.Reservations.Add(id, new Reservation
            {
                Key = key, Amount = amount, Tokens = tokens, ExpiresAtMs = nowMs + ttlMs, Generations = generations, Status = ReservationStatus.Open,
            });
            user.Open++;
        }

        return ReserveResult.Ok;
    }

    /// <summary>Charges the actual; a repeat of a settle replies with the first one's numbers (<c>replayed</c>).</summary>
    public FinishResult Settle(long id, long actual, long actualTokens, out long charged, out bool replayed) =>
        Finish(id, ReservationStatus.Settled, actual, actualTokens, out charged, out replayed);

    public FinishResult Refund(long id, out bool replayed) => Finish(id, ReservationStatus.Refunded, 0, 0, out _, out replayed);

    private FinishResult Finish(long id, ReservationStatus final, long actual, long actualTokens, out long charged, out bool replayed)
    {
        charged = 0;
        replayed = false;
        if (actual < 0 || !users.TryGetValue((int)(id >> UserShift), out User? user))
        {
            return actual < 0 ? FinishResult.InvalidAmount : FinishResult.NotFound;
        }

        lock (user.Gate)
        {
            ref Reservation r = ref CollectionsMarshal.GetValueRefOrNullRef(user.Reservations, id);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref r))
            {
                return FinishResult.NotFound;
            }

            if (r.Status != ReservationStatus.Open)
            {
                charged = r.Charged;
                replayed = r.Status == final;
                return replayed ? FinishResult.Ok : r.Status switch
                {
                    ReservationStatus.Settled => FinishResult.AlreadySettled,
                    ReservationStatus.Refunded => FinishResult.AlreadyRefunded,
                    _ => FinishResult.AlreadyExpired,
                };
            }

            charged = final == ReservationStatus.Refunded ? 0 : actual;
            Close(user, id, ref r, final, charged, actualTokens < 0 ? r.Tokens : actualTokens);
        }

        return FinishResult.Ok;
    }

    /// <summary>Settles every overdue open reservation at its estimate (a background loop calls this about once a second).</summary>
    public int ExpireDue(long nowMs)
    {
        int expired = 0;
        foreach (KeyValuePair<int, User> entry in users)
        {
            User user = entry.Value;
            lock (user.Gate)
            {
                foreach (KeyValuePair<long, Reservation> pair in user.Reservations)
                {
                    ref Reservation r = ref CollectionsMarshal.GetValueRefOrNullRef(user.Reservations, pair.Key);
                    if (r.Status == ReservationStatus.Open && nowMs >= r.ExpiresAtMs)
                    {
                        Close(user, pair.Key, ref r, ReservationStatus.Expired, r.Amount, r.Tokens); // evicts only older finished ids
                        expired++;
                    }
                }
            }
        }

        return expired;
    }

    /// <summary>Under the user's lock: releases the holds, charges the actuals (a rolled-over window keeps nothing), retires the id.</summary>
    private static void Close(User user, long id, ref Reservation r, ReservationStatus final, long charged, long chargedTokens)
    {
        Key key = r.Key;
        user.WalletReserved -= r.Amount;
        user.Wallet -= charged;
        key.BudgetReserved -= r.Amount;
        key.Budget -= charged;
        bool exhausted = false;
        Window[] windows = key.Windows;
        for (int i = 0; i < windows.Length; i++)
        {
            Window w = windows[i];
            if (w.Generation != (ushort)(r.Generations >> (i * PolicyBits)))
            {
                continue;
            }

            w.Reserved -= w.InMetric(r.Amount, r.Tokens);
            w.Used += final == ReservationStatus.Refunded ? 0 : w.InMetric(charged, chargedTokens);
            exhausted |= w.Used >= w.Quota;
        }

        r.Status = final;
        r.Charged = charged;
        r.ChargedTokens = chargedTokens;
        r.Exhausted = exhausted;
        user.Open--;
        long slot = user.FinishedCount++ % user.Finished.Length;
        if (user.FinishedCount > user.Finished.Length)
        {
            user.Reservations.Remove(user.Finished[slot]);
        }

        user.Finished[slot] = id;
    }
}
