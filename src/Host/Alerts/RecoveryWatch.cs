using System.Collections.Concurrent;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Host.Admin;

namespace Quota.Host.Alerts;

/// <summary>A policy window seen used up, as <see cref="RecoveryWatch"/> remembers it until it admits again.</summary>
/// <param name="WaitsForRestore">The policy paused the key: it recovers by the engine's restore (at its rollover with
/// auto_resume, or a manual reset or an update), never by the clock alone.</param>
/// <param name="Reason">Set when an event recovered it: <c>rolled_over</c>, <c>reset</c> or <c>restored</c>.</param>
public readonly record struct ExhaustedWindow(
    int TokenId, int UserId, int PolicyIndex, PolicyMetric Metric, long UsedUnits, long QuotaUnits, long StartMs, long EndMs, bool WaitsForRestore,
    string? Reason = null);

/// <summary>
/// Finds when an exhausted policy window admits again, for the <c>quota.recovered</c> event (docs/alerts.md
/// "Recovery"): it rolled over (its end passed), was reset, or its key was restored. It learns of exhausted windows
/// from the key views the relay reads for every answer and refusal, and from the engine's events (a crossing of 100 %,
/// a pause); it learns of resets and restores from the engine's events. The dispatcher collects the recovered ones
/// every round. Callers on the request path only look up, and add an entry the first time a window is seen used up.
/// Kept in memory: after a restart a window is known again once it is seen exhausted again (its key's next request or
/// refusal, or a pause); the event's id is per window, so one seen twice is still delivered once.
/// </summary>
public sealed class RecoveryWatch
{
    private readonly ConcurrentDictionary<long, ExhaustedWindow> windows = new();

    /// <summary>Windows seen exhausted and not yet recovered (tests, and a bound to watch).</summary>
    public int Count => windows.Count;

    /// <summary>Remembers the used-up windows of <paramref name="view"/> (any enforced policy whose window has an exhaustion mark).</summary>
    public void Notice(TokenView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        for (int i = 0; i < view.Policies.Count; i++)
        {
            PolicyView policy = view.Policies[i];
            if (policy.ExhaustedAtMs != 0 && policy.PeriodEndMs != 0 && PolicyNames.Limits(policy.Spec))
            {
                Add(new ExhaustedWindow(view.TokenId, view.UserId, policy.Index, policy.Spec.Metric, policy.UsedQuotaUnits, policy.Spec.QuotaUnits,
                    policy.PeriodStartMs, policy.PeriodEndMs, policy.PausesKey));
            }
        }
    }

    /// <summary>The engine's events (under a key's lock: dictionary operations only): exhaustion by a crossing or a pause, recovery by a reset or a restore.</summary>
    internal void Record(in AuditEvent e)
    {
        if (e.PolicyIndex < 0)
        {
            return;
        }

        switch (e.Action)
        {
            case AuditAction.ThresholdReached when e.ThresholdPercent == 100:
            case AuditAction.ExhaustedDisable or AuditAction.UpdateDisable:
                Add(new ExhaustedWindow(e.TokenId, e.UserId, e.PolicyIndex, e.Metric, e.UsedQuotaUnits, e.QuotaUnits, e.NewPeriodStartMs, e.NextResetAtMs,
                    WaitsForRestore: e.Action != AuditAction.ThresholdReached));
                break;
            case AuditAction.AutoRestoreReset:
                Recover(e.TokenId, e.PolicyIndex, "rolled_over");
                break;
            case AuditAction.ManualReset:
                Recover(e.TokenId, e.PolicyIndex, "reset");
                break;
            case AuditAction.UpdateRestore:
                Recover(e.TokenId, e.PolicyIndex, "restored");
                break;
        }
    }

    /// <summary>
    /// Takes the windows that admit again at <paramref name="nowMs"/> — an event recovered them, or (a policy that did
    /// not pause its key) their end has passed — as their <c>quota.recovered</c> messages, unless their key is gone.
    /// </summary>
    internal void Collect(long nowMs, Func<int, bool> keyExists, List<AlertMessage> into)
    {
        foreach (KeyValuePair<long, ExhaustedWindow> entry in windows)
        {
            ExhaustedWindow window = entry.Value;
            string? reason = window.Reason ?? (!window.WaitsForRestore && nowMs >= window.EndMs ? "rolled_over" : null);
            if (reason is not null && windows.TryRemove(entry) && keyExists(window.TokenId))
            {
                into.Add(AlertMessage.Recovered(window, reason, nowMs));
            }
        }
    }

    private void Add(ExhaustedWindow seen)
    {
        long slot = Slot(seen.TokenId, seen.PolicyIndex);
        if (windows.TryGetValue(slot, out ExhaustedWindow known) && known.StartMs == seen.StartMs && (known.WaitsForRestore || !seen.WaitsForRestore))
        {
            return; // the common case on the request path: known already, nothing to add (no allocation)
        }

        windows.AddOrUpdate(slot, static (_, seen) => seen, static (_, known, seen) =>
            known.StartMs != seen.StartMs ? seen // a later window of the policy: the earlier one admitted again unseen (a missed restore)
            : known with { WaitsForRestore = known.WaitsForRestore || seen.WaitsForRestore }, seen);
    }

    private void Recover(int tokenId, int policyIndex, string reason)
    {
        long slot = Slot(tokenId, policyIndex);
        while (windows.TryGetValue(slot, out ExhaustedWindow known) && known.Reason is null)
        {
            if (windows.TryUpdate(slot, known with { Reason = reason }, known))
            {
                return;
            }
        }
    }

    private static long Slot(int tokenId, int policyIndex) => ((long)tokenId << 2) | (uint)policyIndex;
}
