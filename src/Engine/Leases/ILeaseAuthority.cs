using Quota.Engine.Accounts;

namespace Quota.Engine.Leases;

/// <summary>
/// One window of one account, as a lease authority keys it: the account and the window's bounds (every node computes them
/// with the same window math, so nodes agree on them whenever they each roll their windows), and the quota the node's
/// configuration gives it. A window a save restarts keeps its bounds, so the authority keeps counting its usage.
/// </summary>
/// <param name="Account">The account (a policy window of a key).</param>
/// <param name="WindowStartMs">The window's start, UTC Unix ms.</param>
/// <param name="WindowEndMs">The window's end (exclusive), UTC Unix ms.</param>
/// <param name="QuotaUnits">The window's quota in the policy's metric.</param>
[System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
public readonly record struct LeaseWindow(AccountId Account, long WindowStartMs, long WindowEndMs, long QuotaUnits);

/// <summary>
/// The port through which an engine with leased windows (<see cref="EngineOptions.LeasedWindows"/>) gets and returns its
/// slices of each window's headroom (docs/design.md "Leases"). One instance serves one node: it knows which node it speaks
/// for. The engine decides every admission itself against its lease; the authority only hands out headroom and takes
/// reports, so the same engine is correct alone and in a cluster.
/// <para>Contract, per window: the authority keeps the reported usage and each node's net lease (granted − given back −
/// charges reported, signed: charges beyond a lease — a graceful overshoot, an overrun — are usage and a debt of that
/// lease, which the node counts the same way), and grants <c>min(asked, quota − used − Σ max(0, lease) + debt)</c>, never
/// less than 0, where debt is the asking node's <c>max(0, −lease)</c>. Nothing is clamped, so grants and reports
/// commute. The positive leases plus the reported usage never exceed the quota (docs/design.md invariant 12) except by
/// charges above their estimates and graceful overshoots. <see cref="InMemoryLeaseAuthority"/> is the reference implementation.</para>
/// <para>Calls come from the engine's async paths (<see cref="QuotaEngine.ReserveAsync"/>,
/// <see cref="QuotaEngine.ReportLeasesAsync"/>), never from the synchronous reserve; they may run concurrently.</para>
/// </summary>
[System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
public interface ILeaseAuthority
{
    /// <summary>Grants this node up to <paramref name="askedUnits"/> (≥ 1) of the window's headroom; returns the grant, 0 … asked.</summary>
    ValueTask<long> GrantAsync(LeaseWindow window, long askedUnits, CancellationToken cancellationToken);

    /// <summary>
    /// Takes this node's report: <paramref name="chargedUnits"/> more of the window's usage (moved from its lease to the
    /// window's usage) and <paramref name="givenBackUnits"/> of its lease returned. Either may be 0, neither is negative.
    /// </summary>
    ValueTask ReportAsync(LeaseWindow window, long chargedUnits, long givenBackUnits, CancellationToken cancellationToken);

    /// <summary>
    /// A save re-aligned a running window (new anchor or period, its counters carried): adds the book of the window that
    /// started at <paramref name="fromStartMs"/> (its usage and every node's lease) to <paramref name="window"/>'s and
    /// drops it. Every node that applies the save sends it; a book already moved is not there any more, so a repeat
    /// changes nothing.
    /// </summary>
    ValueTask MoveAsync(long fromStartMs, LeaseWindow window, CancellationToken cancellationToken);
}
