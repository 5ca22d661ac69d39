using System.Runtime.InteropServices;
using Quota.Engine.Diagnostics;

namespace Quota.Engine.Accounts;

/// <summary>
/// A balance account: a user's wallet or a key's lifetime budget.
/// <para>Admission reads exactly one word, <see cref="available"/> = balance − reserved, and changes it with a CAS, so
/// two reservations can never both take the same units. The hot path touches only <c>available</c> and
/// <c>reserved</c>: the balance and the lifetime usage are derived (balance = available + reserved,
/// used = credited − balance), with <c>credited</c> (every unit ever put in, minus debits) changed only by
/// operators. That keeps a settle at two atomic additions per account.</para>
/// <para>Readers of the derived numbers combine two words without a lock: exact whenever no operation is half-way,
/// which is when anyone audits them.</para>
/// The hot words sit a full cache line (64 bytes) away from both ends of the cell: objects are not 64-byte aligned, so
/// this is what keeps two threads working on different accounts from sharing a line (false sharing).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct BalanceCell
{
    [FieldOffset(64)] private long available;
    [FieldOffset(72)] private long reserved;
    [FieldOffset(80)] private long credited;

    public readonly long Available => Volatile.Read(in available);
    public readonly long Reserved => Volatile.Read(in reserved);
    public readonly long Balance => Available + Reserved;
    public readonly long Used => Volatile.Read(in credited) - Balance;

    /// <summary>Holds <paramref name="amount"/> iff balance − reserved ≥ amount.</summary>
    public bool TryReserve(long amount)
    {
        if (!TryTake(amount))
        {
            return false;
        }

        Interlocked.Add(ref reserved, amount);
        return true;
    }

    /// <summary>Holds <paramref name="amount"/> without a check: an unlimited key still tracks what it spends.</summary>
    public void ReserveUnchecked(long amount)
    {
        Interlocked.Add(ref available, -amount);
        Interlocked.Add(ref reserved, amount);
    }

    /// <summary>Releases a reservation of <paramref name="reservedAmount"/> and charges <paramref name="charged"/>.</summary>
    public void Charge(long reservedAmount, long charged)
    {
        Interlocked.Add(ref reserved, -reservedAmount);
        Interlocked.Add(ref available, reservedAmount - charged);
    }

    /// <summary>Releases a reservation without charging (refund, or the rollback of a rejected reserve).</summary>
    public void Release(long reservedAmount)
    {
        Interlocked.Add(ref reserved, -reservedAmount);
        Interlocked.Add(ref available, reservedAmount);
    }

    /// <summary>Adds <paramref name="delta"/> to the balance (a top-up, or an operator setting a new budget).</summary>
    public void Credit(long delta)
    {
        Interlocked.Add(ref credited, delta);
        Interlocked.Add(ref available, delta);
    }

    /// <summary>Takes <paramref name="amount"/> off the balance iff that keeps balance − reserved ≥ 0.</summary>
    public bool TryDebit(long amount)
    {
        if (!TryTake(amount))
        {
            return false;
        }

        Interlocked.Add(ref credited, -amount);
        return true;
    }

    /// <summary>The one admission step: available −= amount iff amount ≤ available (subtracting form: no overflow).</summary>
    private bool TryTake(long amount)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long current = Volatile.Read(ref available);
            if (amount > current)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref available, current - amount, current) == current)
            {
                return true;
            }
        }

        Invariant.Assert(false, "BalanceCell CAS exceeded its retry bound");
        return false;
    }

    /// <summary>Restores the counters from a snapshot (recovery only, single-threaded).</summary>
    public void Restore(long availableUnits, long balanceUnits, long reservedUnits, long usedUnits)
    {
        available = availableUnits;
        reserved = reservedUnits;
        credited = balanceUnits + usedUnits;
    }
}
