using System.Runtime.InteropServices;
using Quota.Engine.Diagnostics;

namespace Quota.Engine.Accounts;

/// <summary>
/// A balance account: a user's wallet or a key's lifetime budget.
/// <para>Admission reads exactly one word, <see cref="available"/> = balance − reserved, and changes it with a CAS, so
/// two reservations can never both take the same units. <c>balance</c> changes only by what is charged and by
/// operators; <c>reserved</c> is derived (balance − available) and <c>used</c> too (credited − balance, with
/// <c>credited</c> every unit ever put in, minus debits). So a reserve is one CAS, a refund one addition and a settle
/// two, and an operator can set the balance exactly with one CAS on <c>balance</c>, whatever is in flight
/// (a settle moves <c>balance</c> by its charge alone, before or after the operator's CAS).</para>
/// <para>Readers of the derived numbers combine two words without a lock: exact whenever no operation is half-way,
/// which is when anyone audits them.</para>
/// The hot words sit a full cache line (64 bytes) away from both ends of the cell: objects are not 64-byte aligned, so
/// this is what keeps two threads working on different accounts from sharing a line (false sharing).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct BalanceCell
{
    [FieldOffset(64)] private long available;
    [FieldOffset(72)] private long balance;
    [FieldOffset(80)] private long credited;

    public readonly long Available => Volatile.Read(in available);
    public readonly long Balance => Volatile.Read(in balance);
    public readonly long Reserved => Balance - Available;
    public readonly long Used => Volatile.Read(in credited) - Balance;

    /// <summary>Holds <paramref name="amount"/> iff balance − reserved ≥ amount (subtracting form: no overflow).</summary>
    public bool TryReserve(long amount)
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

    /// <summary>Holds <paramref name="amount"/> without a check: an unlimited key still tracks what it spends.</summary>
    public void ReserveUnchecked(long amount) => Interlocked.Add(ref available, -amount);

    /// <summary>Releases a reservation of <paramref name="reservedAmount"/> and charges <paramref name="charged"/>; returns the balance after it.</summary>
    public long Charge(long reservedAmount, long charged)
    {
        long balanceAfter = Interlocked.Add(ref balance, -charged);
        if (reservedAmount != charged)
        {
            Interlocked.Add(ref available, reservedAmount - charged); // an exact estimate leaves available as it was
        }

        return balanceAfter;
    }

    /// <summary>Releases a reservation without charging (refund, or the rollback of a rejected reserve).</summary>
    public void Release(long reservedAmount) => Interlocked.Add(ref available, reservedAmount);

    /// <summary>Adds <paramref name="delta"/> to the balance (a top-up; replay of an operator's change).</summary>
    public void Credit(long delta)
    {
        Interlocked.Add(ref credited, delta);
        Interlocked.Add(ref balance, delta);
        Interlocked.Add(ref available, delta);
    }

    /// <summary>
    /// First half of a top-up: adds <paramref name="delta"/> (≥ 0) to the balance iff it stays ≤
    /// <paramref name="balanceMax"/>, the bound checked in the CAS that adds (two concurrent top-ups cannot both pass it).
    /// Admission does not see it until <see cref="PublishBalanceChange"/>, after the top-up is in the log.
    /// </summary>
    public bool TryCredit(long delta, long balanceMax)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long current = Volatile.Read(ref balance);
            if (delta > balanceMax - current)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref balance, current + delta, current) == current)
            {
                Interlocked.Add(ref credited, delta);
                return true;
            }
        }

        Invariant.Assert(false, "BalanceCell CAS exceeded its retry bound");
        return false;
    }

    /// <summary>
    /// First half of setting the balance to exactly <paramref name="target"/>: one CAS on the balance word, which
    /// admission never reads; returns the change. <see cref="PublishBalanceChange"/> then makes it admissible, after the
    /// change is in the log. Under the owning key's lock.
    /// </summary>
    public long SetBalance(long target)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long current = Volatile.Read(ref balance);
            if (Interlocked.CompareExchange(ref balance, target, current) == current)
            {
                Interlocked.Add(ref credited, target - current);
                return target - current;
            }
        }

        Invariant.Assert(false, "BalanceCell CAS exceeded its retry bound");
        return 0;
    }

    /// <summary>Second half of <see cref="SetBalance"/> and <see cref="TryCredit"/>: the change becomes available to admission.</summary>
    public void PublishBalanceChange(long delta) => Interlocked.Add(ref available, delta);

    /// <summary>Takes <paramref name="amount"/> off the balance iff that keeps balance − reserved ≥ 0.</summary>
    public bool TryDebit(long amount)
    {
        if (!TryReserve(amount))
        {
            return false;
        }

        Interlocked.Add(ref credited, -amount);
        Interlocked.Add(ref balance, -amount);
        return true;
    }

    /// <summary>The raw words, for snapshots.</summary>
    public readonly (long Available, long Balance, long Credited) RawWords =>
        (Volatile.Read(in available), Volatile.Read(in balance), Volatile.Read(in credited));

    /// <summary>Restores the raw words from a snapshot (recovery only, single-threaded).</summary>
    public void RestoreRaw(long availableUnits, long balanceUnits, long creditedUnits)
    {
        available = availableUnits;
        balance = balanceUnits;
        credited = creditedUnits;
    }
}
