using Quota.Engine.Model;

namespace Quota.Host.Limits;

/// <summary>
/// The burn-rate warning (docs/relay.md "Unified limits"): the key spends fast enough, in its running 5-hour window,
/// that at this rate its weekly policy would run out before the weekly reset. The rate is the 5-hour window's usage
/// divided by the time the window has run — at least <see cref="ElapsedMinMs"/>, so one large first request in a
/// fresh window is not read as a rate — and it is held until the weekly reset:
/// <c>used_7d + used_5h ÷ elapsed × (reset_7d − now) ≥ quota_7d</c>. Both policies must count the same metric;
/// a weekly window already used up warns by its utilization instead.
/// </summary>
public static class BurnRate
{
    /// <summary>The shortest time a 5-hour window's usage is spread over to make a rate: 30 minutes.</summary>
    public const long ElapsedMinMs = 30 * 60 * 1000;

    public static bool WouldExhaustBeforeReset(PolicyView fiveHour, PolicyView sevenDay, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(fiveHour);
        ArgumentNullException.ThrowIfNull(sevenDay);
        long weeklyQuota = sevenDay.Spec.QuotaUnits, weeklyUsed = sevenDay.UsedQuotaUnits;
        if (fiveHour.Spec.Metric != sevenDay.Spec.Metric || fiveHour.UsedQuotaUnits <= 0 || weeklyUsed >= weeklyQuota || nowMs >= sevenDay.PeriodEndMs)
        {
            return false;
        }

        double elapsedMs = Math.Max(nowMs - fiveHour.PeriodStartMs, ElapsedMinMs);
        double projected = weeklyUsed + ((double)fiveHour.UsedQuotaUnits / elapsedMs * (sevenDay.PeriodEndMs - nowMs));
        return projected >= weeklyQuota;
    }
}
