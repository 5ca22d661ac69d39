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
/// <para>Like <see cref="BalanceCell"/>, the words sit a cache line away from both ends of the cell (no false sharing).</para>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct WindowCell
{
    [FieldOffset(64)] private long headroom;
    [FieldOffset(72)] private long used;
    [FieldOffset(80)] private long quota;
    [FieldOffset(88)] private long windowEndMs;
    [FieldOffset(96)] private long windowStartMs;
    [FieldOffset(104)] private long shadowRefusals; // a shadow policy's would-be refusals in this window, tagged like used

    public readonly long WindowEndMs => Volatile.Read(in windowEndMs);
    public readonly long WindowStartMs => Volatile.Read(in windowStartMs);
    public readonly ushort Generation => WindowWord.Generation(Volatile.Read(in headroom));
    public readonly long Headroom => WindowWord.Value(Volatile.Read(in headroom));
    public readonly long Used => WindowWord.Value(Volatile.Read(in used));
    public readonly long QuotaUnits => Volatile.Read(in quota);
    public readonly long Reserved => QuotaUnits - Used - Headroom;
    public readonly long ShadowRefusals => WindowWord.Value(Volatile.Read(in shadowRefusals));

    /// <summary>Starts a new window (under the key lock): counters zero, headroom = quota, or carried usage.</summary>
    public void Reset(ushort generation, long quotaUnits, long usedUnits, long reservedUnits, long startMs, long endMs)
    {
        Volatile.Write(ref used, WindowWord.Pack(generation, usedUnits));
        Volatile.Write(ref shadowRefusals, WindowWord.Pack(generation, 0));
        Volatile.Write(ref quota, quotaUnits);
        Volatile.Write(ref windowStartMs, startMs);
        Volatile.Write(ref windowEndMs, endMs);
        Volatile.Write(ref headroom, WindowWord.Pack(generation, WindowWord.Saturate(quotaUnits - usedUnits - reservedUnits)));
    }

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

    /// <summary>Applies a quota change to the current window (under the key lock).</summary>
    public void AdjustQuota(long delta)
    {
        Volatile.Write(ref quota, quota + delta);
        AddIfGeneration(ref headroom, Generation, delta, out _);
    }

    /// <summary>Clears the current window's usage, keeping open reservations (manual reset, under the key lock).</summary>
    public long ClearUsed()
    {
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
