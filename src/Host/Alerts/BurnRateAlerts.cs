using System.Collections.Concurrent;
using Quota.Engine.Model;
using Quota.Host.Limits;

namespace Quota.Host.Alerts;

/// <summary>
/// The <c>quota.burn_rate_warning</c> event: the first time in a weekly window that a key's answer finds the burn-rate
/// rule holding (docs/relay.md "Unified limits"), its webhooks are told, once per weekly window (the event's id names
/// the window, so a repeat after a restart is dropped by the outbox). The request path only looks up the key's last
/// warned window; it allocates the message the first time.
/// </summary>
public sealed class BurnRateAlerts(AlertSink sink)
{
    private readonly ConcurrentDictionary<int, long> warnedWindowStarts = new();

    public void Notice(TokenView view, in UnifiedLimits limits, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (!limits.BurnRateWarning || limits.SevenDay is not { } weekly ||
            (warnedWindowStarts.TryGetValue(view.TokenId, out long warned) && warned == weekly.PeriodStartMs))
        {
            return;
        }

        warnedWindowStarts[view.TokenId] = weekly.PeriodStartMs;
        sink.Enqueue(AlertMessage.BurnRate(view.TokenId, view.UserId, weekly, nowMs));
    }
}
