using Quota.Engine.Diagnostics;
using Quota.Engine.Persistence;

namespace Quota.Engine.Hosting;

/// <summary>
/// What an application adds to the bound <see cref="QuotaEngineOptions"/> when the engine is opened: an audit sink, a log
/// device of its own, budget alert thresholds. Filled by the optional callback of <c>AddQuotaEngine</c>, once, at open.
/// </summary>
public sealed class QuotaEngineOpening
{
    /// <summary>Receives the engine's audit events besides its own system log (see <see cref="IAuditSink"/>); null: none.</summary>
    public IAuditSink? Audit { get; set; }

    /// <summary>Opens the delta log in a directory; null: FASTER (tests wrap it to inject faults).</summary>
    public Func<string, IDeltaLog>? OpenLog { get; set; }

    /// <summary>Budget alert thresholds in percent, ascending, 1 … 100, at most four; empty: no alerts.</summary>
    public IReadOnlyList<int> AlertThresholdsPercent { get; set; } = [];
}
