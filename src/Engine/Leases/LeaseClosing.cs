namespace Quota.Engine.Leases;

/// <summary>
/// The last report of a leased window that ended on this node (docs/design.md "Leases"): its unreported charges and the
/// lease it gives back. <c>default</c>: none pending.
/// </summary>
internal readonly record struct LeaseClosing(ushort Generation, long WindowStartMs, long WindowEndMs, long QuotaUnits, long ChargedUnits, long GivenBackUnits)
{
    public bool Pending => WindowEndMs != 0;
}

/// <summary>
/// A leased window a save re-aligned (docs/design.md "Leases"): the authority's book keyed by
/// <see cref="FromStartMs"/> moves to the window's new bounds, usage and leases included.
/// </summary>
internal sealed record LeaseMove(long FromStartMs, long ToStartMs, long ToEndMs);
