using System.Collections.Concurrent;

namespace Quota.Benchmarks;

/// <summary>
/// The peer a team would write first: the same reserve/settle rules (wallet, key budget, one strict-or-graceful
/// policy window, reservations by id) in a ConcurrentDictionary of accounts, each changed under a lock.
/// </summary>
public sealed class LockedQuota
{
    private sealed class Account
    {
        public long Wallet, WalletReserved, Budget, BudgetReserved, Used, Reserved, Quota, WindowEndMs;
        public bool Strict;
    }

    private readonly ConcurrentDictionary<int, Account> accounts = new();
    private readonly ConcurrentDictionary<long, (int Key, long Amount)> reservations = new();
    private long nextId;

    public void Add(int key, long wallet, long budget, long quota, bool strict) =>
        accounts[key] = new Account { Wallet = wallet, Budget = budget, Quota = quota, Strict = strict, WindowEndMs = long.MaxValue };

    public long Reserve(int key, long amount, long nowMs)
    {
        Account a = accounts[key];
        lock (a)
        {
            if (nowMs >= a.WindowEndMs)
            {
                a.Used = a.Reserved = 0;
            }

            if (amount > a.Wallet - a.WalletReserved || amount > a.Budget - a.BudgetReserved)
            {
                return 0;
            }

            long room = a.Quota - a.Used - a.Reserved;
            if (room <= 0 || (a.Strict && amount > room))
            {
                return 0;
            }

            a.WalletReserved += amount;
            a.BudgetReserved += amount;
            a.Reserved += amount;
        }

        long id = Interlocked.Increment(ref nextId);
        reservations[id] = (key, amount);
        return id;
    }

    public bool Settle(long id, long actual)
    {
        if (!reservations.TryRemove(id, out (int Key, long Amount) r))
        {
            return false;
        }

        Account a = accounts[r.Key];
        lock (a)
        {
            a.WalletReserved -= r.Amount;
            a.Wallet -= actual;
            a.BudgetReserved -= r.Amount;
            a.Budget -= actual;
            a.Reserved -= r.Amount;
            a.Used += actual;
        }

        return true;
    }
}
