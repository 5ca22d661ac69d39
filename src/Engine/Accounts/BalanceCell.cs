using System.Runtime.InteropServices;
using Quota.Engine.Diagnostics;

namespace Quota.Engine.Accounts;

/// <summary>
/// A balance account: a user's wallet or a key's lifetime budget.
/// <para>Admission reads exactly one word, <see cref="available"/> = balance − reserved, and changes it with a
/// CAS, so two reservations can never both take the same units. The other fields are bookkeeping kept with
/// plain atomic adds; they agree with <c>available</c> whenever no operation is half-way.</para>
/// <para>Ordering rule that makes concurrent readers safe: any change that gives units back (settle below the
/// estimate, refund) adds to <c>available</c> only after the charge is known, so a concurrent reserve can see
/// too little room (transient under-admission, allowed) but never too much.</para>
/// One cell is 64 bytes so that two hot accounts never share a cache line.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct BalanceCell
{
    [FieldOffset(0)] private long available;
    [FieldOffset(8)] private long balance;
    [FieldOffset(16)] private long reserved;
    [FieldOffset(24)] private long used;

    public readonly long Available => Volatile.Read(in available);
    public readonly long Balance => Volatile.Read(in balance);
    public readonly long Reserved => Volatile.Read(in reserved);
    public readonly long Used => Volatile.Read(in used);

    public void Initialize(long balanceUnits, long usedUnits)
    {
        available = balanceUnits;
        balance = balanceUnits;
        reserved = 0;
        used = usedUnits;
    }

    /// <summary>Restores the counters from a snapshot (recovery only, single-threaded).</summary>
    public void Restore(long availableUnits, long balanceUnits, long reservedUnits, long usedUnits)
    {
        available = availableUnits;
        balance = balanceUnits;
        reserved = reservedUnits;
        used = usedUnits;
    }

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
                Interlocked.Add(ref reserved, amount);
                return true;
            }
        }

        Invariant.Assert(false, "BalanceCell.TryReserve exceeded its CAS retry bound");
        return false;
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
        Interlocked.Add(ref used, charged);
        Interlocked.Add(ref balance, -charged);
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
        Interlocked.Add(ref balance, delta);
        Interlocked.Add(ref available, delta);
    }

    /// <summary>Takes <paramref name="amount"/> off the balance iff that keeps balance − reserved ≥ 0.</summary>
    public bool TryDebit(long amount)
    {
        if (!TryReserve(amount))
        {
            return false;
        }

        Interlocked.Add(ref reserved, -amount);
        Interlocked.Add(ref balance, -amount);
        return true;
    }
}
