using System.Runtime.InteropServices;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine.Accounts;

/// <summary>
/// The counters of one policy's current window.
/// <para><c>headroom</c> = quota − used − reserved is the only word admission reads; it is tagged with the
/// window generation (see <see cref="WindowWord"/>), so a reserve, settle or refund applies to exactly the
/// window its reservation was made in and is a no-op once that window has rolled over. <c>used</c> is tagged the
/// same way; <c>reserved</c> is derived (quota − used − headroom, with the window's quota kept beside them), so a
/// reserve or a refund is one CAS and a settle two.</para>
/// <para>Concurrency: reserve/charge/release are lock-free CAS loops. <see cref="Reset"/>, <see cref="AdjustQuota"/>
/// and <see cref="ClearUsed"/> change the window structurally and run under the owning key's lock; Reset writes
/// <c>used</c> and the quota before publishing the new generation in <c>headroom</c>, so nothing can be reserved in
/// the new window before its counters are zero. Readers of the derived <c>reserved</c> combine words without a lock:
/// exact whenever no operation is half-way (views read under the key's lock, audits when quiescent).</para>
/// <para><b>Leased</b> (an engine with a lease authority, docs/design.md "Leases"): the same <c>headroom</c> word is this
/// node's lease — what the authority granted it in this window and it has not used, held or given back. Grants add to
/// it, reserves take from it with the same checks, a finish gives its unused estimate back to it; <c>leased</c> is the
/// node's net lease as the authority counts it (granted − given back − charges reported) and <c>reported</c> the charges
/// already reported, so reserved = leased − (used − reported) − headroom. The quota is kept for views and for the
/// authority, which owns the window's totals.</para>
/// <para>Like <see cref="BalanceCell"/>, the words sit a cache line away from both ends of the cell (no false sharing).</para>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 200)]
internal struct WindowCell
{
    [FieldOffset(64)] private long headroom;
    [FieldOffset(72)] private long used;
    [FieldOffset(80)] private long quota;
    [FieldOffset(88)] private long windowEndMs;
    [FieldOffset(96)] private long windowStartMs;
    [FieldOffset(104)] private long shadowRefusals; // a shadow policy's would-be refusals in this window, tagged like used
    [FieldOffset(112)] private long leased; // leased mode: the node's net lease, tagged like used
    [FieldOffset(120)] private long reported; // leased mode: charges reported to the authority, tagged like used
    [FieldOffset(128)] private bool isLeased; // set at Reset (under the key lock), read on refusals and by views

    public readonly long WindowEndMs => Volatile.Read(in windowEndMs);
    public readonly long WindowStartMs => Volatile.Read(in windowStartMs);
    public readonly ushort Generation => WindowWord.Generation(Volatile.Read(in headroom));
    public readonly long Headroom => WindowWord.Value(Volatile.Read(in headroom));
    public readonly long Used => WindowWord.Value(Volatile.Read(in used));
    public readonly long QuotaUnits => Volatile.Read(in quota);
    public readonly long Reserved => IsLeased ? Leased - (Used - Reported) - Headroom : QuotaUnits - Used - Headroom;
    public readonly bool IsLeased => Volatile.Read(in isLeased);
    /// <summary>Leased mode: the node's net lease in this window (granted − given back − charges reported; negative: a debt).</summary>
    public readonly long Leased => WindowWord.Value(Volatile.Read(in leased));
    /// <summary>Leased mode: the charges of this window already reported to the authority.</summary>
    public readonly long Reported => WindowWord.Value(Volatile.Read(in reported));
    public readonly long ShadowRefusals => WindowWord.Value(Volatile.Read(in shadowRefusals));

    /// <summary>
    /// Starts a new, empty window (under the key lock): headroom = quota, or, leased, no lease yet (the first reserve
    /// reports it short and the async path asks the authority).
    /// </summary>
    public void Reset(ushort generation, long quotaUnits, long startMs, long endMs, bool leasedMode)
    {
        Volatile.Write(ref used, WindowWord.Pack(generation, 0));
        Volatile.Write(ref shadowRefusals, WindowWord.Pack(generation, 0));
        Volatile.Write(ref leased, WindowWord.Pack(generation, 0));
        Volatile.Write(ref reported, WindowWord.Pack(generation, 0));
        Volatile.Write(ref isLeased, leasedMode);
        Volatile.Write(ref quota, quotaUnits);
        Volatile.Write(ref windowStartMs, startMs);
        Volatile.Write(ref windowEndMs, endMs);
        Volatile.Write(ref headroom, WindowWord.Pack(generation, leasedMode ? 0 : quotaUnits));
    }

    /// <summary>Leased: adds a grant of window <paramref name="generation"/> to the lease; false (nothing changed) if that window has rolled over.</summary>
    public bool Grant(ushort generation, long units)
    {
        if (!AddIfGeneration(ref headroom, generation, units, out _))
        {
            return false;
        }

        AddIfGeneration(ref leased, generation, units, out _);
        return true;
    }

    /// <summary>
    /// Leased, first half of a report: takes up to <paramref name="wanted"/> of the free lease of window
    /// <paramref name="generation"/> to give back (never more than is free); returns what it took.
    /// </summary>
    public long TakeForGiveBack(ushort generation, long wanted)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long word = Volatile.Read(ref headroom);
            long take = Math.Min(wanted, WindowWord.Value(word));
            if (WindowWord.Generation(word) != generation || take <= 0)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref headroom, WindowWord.Pack(generation, WindowWord.Value(word) - take), word) == word)
            {
                return take;
            }
        }

        Invariant.Assert(false, "WindowCell.TakeForGiveBack exceeded its CAS retry bound");
        return 0;
    }

    /// <summary>
    /// Leased, second half of a report (and its replay), under the key's lock: <paramref name="charged"/> more of the
    /// window's charges are reported and <paramref name="givenBack"/> of the lease is returned; the net lease shrinks by
    /// both. It is signed: charges beyond the lease (a graceful overshoot, an overrun) leave a debt (a negative lease, and
    /// a negative headroom) that the next grant pays first. Nothing is clamped on either side, so a grant and a report
    /// that cross on the way to the authority commute: the node and the authority always agree on the net lease.
    /// </summary>
    public void ApplyReport(ushort generation, long charged, long givenBack)
    {
        if (AddIfGeneration(ref leased, generation, -charged - givenBack, out _))
        {
            AddIfGeneration(ref reported, generation, charged, out _);
        }
    }

    /// <summary>Replay of a give-back: the free lease it took.</summary>
    public void ReplayGiveBack(ushort generation, long givenBack) => AddIfGeneration(ref headroom, generation, -givenBack, out _);

    /// <summary>
    /// Holds <paramref name="amount"/> in the current window. Strict: iff used + reserved + amount ≤ quota.
    /// Graceful: iff used + reserved &lt; quota (in-flight reservations count, so at most one admitted
    /// request crosses the quota).
    /// </summary>
    public ReserveResult TryReserve(long amount, BoundaryMode mode, out ushort generation)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long word = Volatile.Read(ref headroom);
            long room = WindowWord.Value(word);
            generation = WindowWord.Generation(word);
            if (room <= 0)
            {
                return ReserveResult.PolicyExhausted;
            }

            if (mode == BoundaryMode.Strict && amount > room)
            {
                return ReserveResult.PolicyEstimateTooLarge;
            }

            long next = WindowWord.Pack(generation, WindowWord.Saturate(room - amount));
            if (Interlocked.CompareExchange(ref headroom, next, word) == word)
            {
                return ReserveResult.Ok;
            }
        }

        Invariant.Assert(false, "WindowCell.TryReserve exceeded its CAS retry bound");
        generation = 0;
        return ReserveResult.PolicyExhausted;
    }

    /// <summary>
    /// Settles a reservation made in window <paramref name="generation"/>: releases <paramref name="reservedAmount"/>,
    /// charges <paramref name="charged"/>. Returns false (and changes nothing) if that window has rolled over.
    /// <paramref name="usedAfter"/> is the window's usage right after this charge.
    /// </summary>
    public bool Charge(ushort generation, long reservedAmount, long charged, out long usedAfter)
    {
        usedAfter = 0;
        // One CAS moves headroom by (estimate − actual): admission never sees a half-applied settle. An exact estimate
        // leaves headroom as it is, so reading its generation is enough; a rollover after that read changes the
        // generation of `used` too, and the CAS below then refuses, as this one would have.
        long delta = reservedAmount - charged;
        bool sameWindow = delta == 0
            ? WindowWord.Generation(Volatile.Read(ref headroom)) == generation
            : AddIfGeneration(ref headroom, generation, delta, out _);
        if (!sameWindow)
        {
            return false;
        }

        return AddIfGeneration(ref used, generation, charged, out usedAfter);
    }

    /// <summary>
    /// Counts one request a shadow policy admitted although window <paramref name="generation"/> would have refused it;
    /// returns the window's count after it (0: that window has rolled over, nothing counted).
    /// </summary>
    public long CountShadowRefusal(ushort generation) => AddIfGeneration(ref shadowRefusals, generation, 1, out long after) ? after : 0;

    /// <summary>Releases a reservation of window <paramref name="generation"/> without charging.</summary>
    public void Release(ushort generation, long reservedAmount) => AddIfGeneration(ref headroom, generation, reservedAmount, out _);

    /// <summary>Re-aligns the current window after its anchor or period changed, keeping its counters (under the key lock).</summary>
    public void MoveWindow(long startMs, long endMs)
    {
        Volatile.Write(ref windowStartMs, startMs);
        Volatile.Write(ref windowEndMs, endMs);
    }

    /// <summary>Applies a quota change to the current window (under the key lock). Leased, the lease stays: the authority judges the new quota at the next grant.</summary>
    public void AdjustQuota(long delta)
    {
        Volatile.Write(ref quota, quota + delta);
        if (!IsLeased)
        {
            AddIfGeneration(ref headroom, Generation, delta, out _);
        }
    }

    /// <summary>
    /// Clears the current window's usage, keeping open reservations (manual reset, under the key lock). Leased, nothing
    /// is cleared: the authority owns the window's usage (a lease is never made out of a local reset).
    /// </summary>
    public long ClearUsed()
    {
        if (IsLeased)
        {
            return 0;
        }

        ushort generation = Generation;
        long previous = Interlocked.Exchange(ref used, WindowWord.Pack(generation, 0));
        long cleared = WindowWord.Generation(previous) == generation ? WindowWord.Value(previous) : 0;
        AddIfGeneration(ref headroom, generation, cleared, out _);
        return cleared;
    }

    /// <summary>Replay of a reserve: holds without a check, in its own generation only.</summary>
    public void ReplayReserve(ushort generation, long amount) => AddIfGeneration(ref headroom, generation, -amount, out _);

    /// <summary>Replay of a manual reset: usage cleared by exactly what the live reset cleared.</summary>
    public void ReplayClearUsed(long cleared)
    {
        ushort generation = Generation;
        AddIfGeneration(ref used, generation, -cleared, out _);
        AddIfGeneration(ref headroom, generation, cleared, out _);
    }

    /// <summary>The raw words, for snapshots.</summary>
    public readonly (long Headroom, long Used, long Quota, long ShadowRefusals) RawWords =>
        (Volatile.Read(in headroom), Volatile.Read(in used), Volatile.Read(in quota), Volatile.Read(in shadowRefusals));

    /// <summary>The raw lease words, for snapshots.</summary>
    public readonly (bool IsLeased, long Leased, long Reported) RawLeaseWords =>
        (Volatile.Read(in isLeased), Volatile.Read(in leased), Volatile.Read(in reported));

    /// <summary>Restores the raw lease words from a snapshot (recovery only, single-threaded).</summary>
    public void RestoreRawLease(bool leasedMode, long leasedWord, long reportedWord)
    {
        isLeased = leasedMode;
        leased = leasedWord;
        reported = reportedWord;
    }

    /// <summary>Restores the raw words from a snapshot (recovery only, single-threaded).</summary>
    public void RestoreRaw(long headroomWord, long usedWord, long quotaUnits, long shadowRefusalsWord, long startMs, long endMs)
    {
        headroom = headroomWord;
        used = usedWord;
        shadowRefusals = shadowRefusalsWord;
        quota = quotaUnits;
        windowStartMs = startMs;
        windowEndMs = endMs;
    }

    private static bool AddIfGeneration(ref long word, ushort generation, long delta, out long after)
    {
        for (int attempt = 0; attempt < EngineLimits.CasRetriesMax; attempt++)
        {
            long current = Volatile.Read(ref word);
            if (WindowWord.Generation(current) != generation)
            {
                after = 0;
                return false;
            }

            after = WindowWord.Saturate(WindowWord.Value(current) + delta);
            if (Interlocked.CompareExchange(ref word, WindowWord.Pack(generation, after), current) == current)
            {
                return true;
            }
        }

        Invariant.Assert(false, "WindowCell update exceeded its CAS retry bound");
        after = 0;
        return false;
    }
}
