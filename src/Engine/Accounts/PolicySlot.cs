using Quota.Engine.Model;
using Quota.Engine.Windows;

namespace Quota.Engine.Accounts;

/// <summary>A saved policy's configuration with its window rule resolved. Immutable: swapped whole on save.</summary>
internal sealed class PolicyConfig(QuotaPolicySpec spec, WindowRule rule, IReadOnlyList<int>? alertPercents = null)
{
    public readonly QuotaPolicySpec Spec = spec;
    public readonly WindowRule Rule = rule;
    public readonly BoundaryMode Boundary = spec.BoundaryMode;
    public readonly long QuotaUnits = spec.QuotaUnits;
    public readonly PolicyMetric Metric = spec.Metric;
    /// <summary>A shadow policy: counts what it would refuse, refuses nothing, never pauses the key.</summary>
    public readonly bool Shadow = spec.Enforcement == PolicyEnforcement.Shadow;
    /// <summary>The alert thresholds of a window, in the policy's metric (EngineOptions.AlertThresholdsPercent).</summary>
    public readonly AlertLevels Alerts = AlertLevels.For(spec.QuotaUnits, alertPercents ?? []);

    /// <summary>A request's amount in this policy's metric: its cost, its tokens, or one request.</summary>
    public long InMetric(long units, long tokens) => Metric switch
    {
        PolicyMetric.Quota => units,
        PolicyMetric.Tokens => tokens,
        _ => 1,
    };
}

/// <summary>
/// One of a key's (at most four) policy positions: its configuration, its windows' counters and its exhaustion/pause
/// record. The slot object lives as long as the key; a save replaces <see cref="Config"/>, and <see cref="Window"/> when
/// it restarts the window. Concurrency: every field changes only under the key's lock; the request path reads the
/// configuration and the window from the key's published <see cref="KeyConfig"/>, never from here (the counters in
/// the window are lock-free), and reads <see cref="ExhaustedAtMs"/> only as a hint that the lock path re-checks.
/// </summary>
internal sealed class PolicySlot(PolicyConfig config)
{
    public PolicyWindow Window = new();
    public PolicyConfig Config = config;
    /// <summary>When the current window first ran out (used ≥ quota); 0 = not exhausted. Cleared by resets.</summary>
    public long ExhaustedAtMs;
    /// <summary>The key's operator status recorded when this policy paused it; None = not paused. Recorded once, never overwritten.</summary>
    public TokenStatus PausedFromStatus;
    /// <summary>Window generation in which the pause happened: a later generation means "recovering".</summary>
    public ushort PausedGeneration;
    /// <summary>The position was emptied by a save; the slot stays so that open reservations can still name it.</summary>
    public bool Removed;
    /// <summary>
    /// No open reservation holds a generation older than this (a conservative floor, refreshed by a table scan only
    /// when the next window restart would reach it): the guard that keeps 16-bit generations from wrapping onto a held one.
    /// </summary>
    public ushort OldestHeldGeneration;
    /// <summary>
    /// Leased: the last report of the window this position last ended (a rollover, or a restart by a save), until
    /// <see cref="QuotaEngine.ReportLeasesAsync"/> sends it; default when there is none.
    /// </summary>
    public Leases.LeaseClosing Closing;

    /// <summary>
    /// A leased window a save moved (new anchor or period, counters carried) whose book the authority has not moved yet
    /// (docs/design.md "Leases"): sent before this window's next grant or report. <c>null</c>: none.
    /// </summary>
    public Leases.LeaseMove? PendingMove;

    /// <summary>The current window's counters (under the key's lock, or in recovery).</summary>
    public ref WindowCell Cell => ref Window.Cell;

    /// <summary>In service: saved, enabled, not removed.</summary>
    public bool IsActive => !Removed && Config.Spec.Enabled;

    public bool IsPaused => PausedFromStatus != TokenStatus.None;

    /// <summary>
    /// Before the current window ends (under the key's lock, or in recovery): a leased window's unreported charges and
    /// the rest of its lease become its closing report. Holds of open reservations are given back with the lease: the
    /// window they were taken in is over. A closing not yet sent is replaced (the authority then keeps counting that
    /// ended window's lease as held: fewer admissions, never more).
    /// </summary>
    public void CloseLease()
    {
        ref WindowCell cell = ref Cell;
        if (!cell.IsLeased)
        {
            return;
        }

        long charged = cell.Used - cell.Reported;
        long givenBack = Math.Max(0, cell.Leased - charged);
        if (charged != 0 || givenBack != 0)
        {
            Closing = new Leases.LeaseClosing(cell.Generation, cell.WindowStartMs, cell.WindowEndMs, cell.QuotaUnits, charged, givenBack);
        }
    }
}
