using System.Collections.Concurrent;

namespace Quota.Host.Cluster;

/// <summary>
/// <c>Cluster:FailOpenUnits</c> (docs/cluster.md "Store unreachable"): what a node may still admit on an account while the
/// store cannot be reached and its lease does not cover a request — per account, so per policy window (a window's account
/// is its own), and for a wallet or key budget per node process. Off (0) by default: the node then fails closed (503).
/// Spent units are not given back by a refund: the budget bounds what a node admits without the store, whatever happens to it.
/// </summary>
internal sealed class FailOpenBudget(long unitsPerAccount)
{
    /// <summary>The hold epoch of a request admitted on this budget: no lease's, so its finish gives nothing back to a lease.</summary>
    public const int Epoch = -1;

    private readonly ConcurrentDictionary<string, StrongBox> spent = new(StringComparer.Ordinal);

    /// <summary>Takes <paramref name="amount"/> of the account's budget if it is on and has that much left.</summary>
    public bool TryTake(AccountRef account, long amount)
    {
        if (unitsPerAccount <= 0 || amount > unitsPerAccount)
        {
            return false;
        }

        StrongBox box = spent.GetOrAdd(account.Key, static _ => new StrongBox());
        for (long current = Volatile.Read(ref box.Value); current + amount <= unitsPerAccount; current = Volatile.Read(ref box.Value))
        {
            if (Interlocked.CompareExchange(ref box.Value, current + amount, current) == current)
            {
                return true;
            }
        }

        return false;
    }

    private sealed class StrongBox
    {
        public long Value;
    }
}
