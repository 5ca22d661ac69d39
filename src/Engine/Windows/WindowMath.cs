using NodaTime;
using Quota.Engine.Model;

namespace Quota.Engine.Windows;

/// <summary>
/// Which window contains <c>now</c> (docs/design.md "Windows"). Pure and closed form: the window is derived from the
/// anchor, never from a previous window, so any number of missed windows collapses into one answer.
/// Fixed modes are one division. Calendar modes estimate the window index k from local dates and then
/// correct it by at most a step or two (a DST shift moves a boundary by hours, never by a day), so the cost
/// does not grow with the time elapsed since the anchor.
/// Runs only when a window rolls over or a policy is saved, never per request.
/// <para>Total: for every anchor validation admits (<see cref="WindowRule.AnchorMinMs"/> … <see cref="WindowRule.AnchorMaxMs"/>)
/// and every <c>now</c>, it returns a window and never throws; a clock beyond <see cref="WindowRule.ClockMaxMs"/> is
/// read as that instant.</para>
/// </summary>
internal static class WindowMath
{
    public static Window Compute(WindowRule rule, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(rule);
        nowMs = Math.Min(nowMs, WindowRule.ClockMaxMs);
        if (rule.FixedLengthMs > 0)
        {
            return ComputeFixed(rule.AnchorMs, rule.FixedLengthMs, nowMs);
        }

        if (nowMs < rule.AnchorMs)
        {
            return new Window(rule.AnchorMs, Boundary(rule, 1)); // future anchor: the first window
        }

        long k = EstimateIndex(rule, nowMs);
        // Correct the estimate: find the largest k with Boundary(k) <= now.
        while (k > 0 && Boundary(rule, k) > nowMs)
        {
            k--;
        }

        long next = Boundary(rule, k + 1);
        while (next <= nowMs)
        {
            k++;
            next = Boundary(rule, k + 1);
        }

        return new Window(Boundary(rule, k), next);
    }

    private static Window ComputeFixed(long anchorMs, long lengthMs, long nowMs)
    {
        if (nowMs < anchorMs)
        {
            return new Window(anchorMs, anchorMs + lengthMs);
        }

        long k = (nowMs - anchorMs) / lengthMs; // both non-negative: truncation is floor
        long start = anchorMs + (k * lengthMs);
        return new Window(start, start + lengthMs);
    }

    private static long EstimateIndex(WindowRule rule, long nowMs)
    {
        LocalDate anchorDate = rule.AnchorLocal.Date;
        LocalDate nowDate = Instant.FromUnixTimeMilliseconds(nowMs).InZone(rule.Zone).Date;
        return rule.Mode switch
        {
            PeriodMode.Daily => Period.DaysBetween(anchorDate, nowDate),
            PeriodMode.Weekly => Period.DaysBetween(anchorDate, nowDate) / 7,
            PeriodMode.Monthly => ((nowDate.Year - anchorDate.Year) * 12L) + nowDate.Month - anchorDate.Month,
            _ => throw new InvalidOperationException($"not a calendar mode: {rule.Mode}"),
        };
    }

    /// <summary>The start of window k (k ≥ 0). Boundary 0 is the anchor instant itself.</summary>
    internal static long Boundary(WindowRule rule, long k)
    {
        if (k == 0)
        {
            return rule.AnchorMs;
        }

        LocalDateTime anchor = rule.AnchorLocal;
        LocalDateTime local = rule.Mode switch
        {
            PeriodMode.Daily => anchor.PlusDays(checked((int)k)),
            PeriodMode.Weekly => anchor.PlusWeeks(checked((int)k)),
            // From the anchor's date every time: NodaTime clamps to the month's last day (Jan 31 → Feb 28 → Mar 31).
            PeriodMode.Monthly => anchor.Date.PlusMonths(checked((int)k)).At(anchor.TimeOfDay),
            _ => throw new InvalidOperationException($"not a calendar mode: {rule.Mode}"),
        };
        return rule.Zone.ResolveLocal(local, WindowRule.Resolver).ToInstant().ToUnixTimeMilliseconds();
    }
}
