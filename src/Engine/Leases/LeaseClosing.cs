namespace Quota.Engine.Leases;

/// <summary>
/// The last report of a leased window that ended on this node (docs/design.md "Leases"): its unreported charges and the
/// lease it gives back. <c>default</c>: none pending.
/// </summary>
internal readonly record struct LeaseClosing(ushort Generation, long WindowStartMs, long WindowEndMs, long QuotaUnits, long ChargedUnits, long GivenBackUnits)
{
    public bool Pending => WindowEndMs != 0;
}
